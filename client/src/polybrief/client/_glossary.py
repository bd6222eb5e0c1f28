"""Glossaries on the client side: the accepted forms (``Glossary``) as terms, and the
glossary file of the command line (``parse_glossary``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from polybrief.client import _types as t


def glossary_terms(glossary: t.Glossary | None) -> list[t.GlossaryTerm]:
    """The terms of a glossary given as a mapping or as (source, target) pairs, in order;
    TypeError for anything else (a string, an entry that is not a pair of strings). The
    server checks the rest (sizes, empty or duplicated sources)."""
    if glossary is None:
        return []
    if isinstance(glossary, str | bytes):
        raise TypeError("glossary must be a mapping {source: target} or (source, target) pairs")
    entries = glossary.items() if isinstance(glossary, Mapping) else glossary
    terms = []
    for entry in entries:
        pair = tuple(entry) if isinstance(entry, Sequence) and not isinstance(entry, str) else ()
        if len(pair) != 2 or not all(isinstance(part, str) for part in pair):
            raise TypeError(
                "glossary entries are (source, target) pairs of strings "
                f"(target '' keeps the source as it is), not {entry!r}"
            )
        terms.append(t.GlossaryTerm(*pair))
    return terms


def parse_glossary(text: str) -> list[t.GlossaryTerm]:
    """The terms of a glossary file: one term per line, blank lines skipped.

    A line with a tab is ``source<TAB>target`` (TSV: the first tab separates them);
    otherwise ``source=target`` (the first "="); a line with neither, or with an empty
    target ("source=" or "source<TAB>"), is a term to keep as it is (do not translate).
    Spaces around source and target are dropped. ValueError, with the line number, for a
    line with no source.
    """
    terms = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        separator = "\t" if "\t" in line else "="
        source, _, target = line.partition(separator)
        if not source.strip():
            raise ValueError(f"line {number}: no source term before {separator!r}: {line!r}")
        terms.append(t.GlossaryTerm(source.strip(), target.strip()))
    return terms
