"""Glossary and do-not-translate terms kept verbatim on any model.

Terms found in a text are first masked with sentinels the model's tokenizer keeps intact
(``pick_sentinel``); when every sentinel comes back exactly once the terms are put in
their place. When any is dropped, doubled, re-cased or translated (NMT models do all of
these), the text is instead cut at the terms, the pieces around them are translated, and
the terms are put back between them: a way that cannot lose a term, on a random model
too. A do-not-translate term (empty ``target``) reads in the output as it is written in
the source, so with ``ignore_case`` "putin" in the glossary keeps the source's "Putin"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from polybrief.service.domain import GlossaryTerm

# Term boundaries: the characters on either side of a match are not letters or digits
# (any script): "Gaulle" is not found in "Gaullet", nor "Putin" in "Putinism".
_BOUNDARY_BEFORE = r"(?<![^\W_])"
_BOUNDARY_AFTER = r"(?![^\W_])"


@dataclass(frozen=True)
class Match:
    """A term found at ``text[start:end]``."""

    start: int
    end: int
    term: GlossaryTerm


@dataclass(frozen=True)
class TermResult:
    """A translation with its terms in place: ``applied`` the distinct glossary sources
    found (as the glossary spells them, in order of first occurrence), ``masked`` whether
    the sentinel masking held (True also when nothing was matched) or the text was
    translated around the terms instead."""

    text: str
    applied: tuple[str, ...]
    masked: bool


def _folded(text: str) -> tuple[str, list[int]]:
    """``text`` case-folded, and for every folded position the index of the character it
    came from, plus ``len(text)`` at the end (casefold can lengthen: "ß" → "ss")."""
    out: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        folded = char.casefold()
        out.append(folded)
        origin.extend([i] * len(folded))
    origin.append(len(text))
    return "".join(out), origin


def find_terms(text: str, terms: Sequence[GlossaryTerm], *, ignore_case: bool) -> list[Match]:
    """The glossary terms in ``text``, left to right, non-overlapping, as whole words
    (nothing alphanumeric just before or after; a term may hold spaces and punctuation),
    the longest term winning where several start at one place. With ``ignore_case``
    text and terms are compared case-folded. The first of two terms equal after folding
    wins. Terms are NFC-normalised (as the engine's cleaned texts are)."""
    by_key: dict[str, GlossaryTerm] = {}
    for term in terms:
        key = unicodedata.normalize("NFC", term.source)
        key = key.casefold() if ignore_case else key
        if key.strip():
            by_key.setdefault(key, term)
    if not by_key or not text:
        return []
    keys = sorted(by_key, key=len, reverse=True)
    pattern = re.compile(
        _BOUNDARY_BEFORE + "(?:" + "|".join(map(re.escape, keys)) + ")" + _BOUNDARY_AFTER
    )
    haystack, origin = _folded(text) if ignore_case else (text, [*range(len(text) + 1)])
    matches = []
    pos = 0
    while (found := pattern.search(haystack, pos)) is not None:
        start, end = found.span()
        aligned = (start == 0 or origin[start - 1] != origin[start]) and (
            end == len(haystack) or origin[end - 1] != origin[end]
        )
        if not aligned:  # the match starts or ends inside one character's folding
            pos = start + 1
            continue
        matches.append(Match(origin[start], origin[end], by_key[found.group()]))
        pos = end
    return matches


def term_output(text: str, match: Match) -> str:
    """What ``match`` reads as in the output: the term's target, or for a do-not-translate
    term the source's own text (its own casing)."""
    return match.term.target or text[match.start : match.end]


# Sentinel formats tried in order; ``{n}`` is the term's index.
SENTINELS = ("ZXQ{n}", "[{n}]", "<x{n}>", "@@{n}@@")
_EXAMPLES = (0, 1, 7, 12, 255)


def pick_sentinel(roundtrip: Callable[[str], str]) -> Callable[[int], str]:
    """The first of ``SENTINELS`` whose examples survive ``roundtrip`` (the tokenizer's
    encode then decode) intact, alone and inside a sentence; the first format when none
    does (masking will then fail its check and ``apply_terms`` falls back)."""
    for fmt in SENTINELS:
        samples = [fmt.format(n=n) for n in _EXAMPLES]
        sentence = "The " + " and ".join(samples) + " met."
        alone = all(roundtrip(s).strip() == s for s in samples)
        inside = f" {' '.join(roundtrip(sentence).split())} "
        if alone and all(inside.count(f" {s} ") == 1 for s in samples):
            return _formatter(fmt)
    return _formatter(SENTINELS[0])


def _formatter(fmt: str) -> Callable[[int], str]:
    def sentinel(n: int) -> str:
        return fmt.format(n=n)

    return sentinel


def _common_prefix(a: str, b: str) -> str:
    size = 0
    while size < min(len(a), len(b)) and a[size] == b[size]:
        size += 1
    return a[:size]


def _sentinel_pattern(sentinel: Callable[[int], str]) -> re.Pattern[str] | None:
    """A pattern of every string of the form ``sentinel(n)``, when the format is a fixed
    prefix and suffix around the decimal ``n`` (all of ``SENTINELS`` are); else None."""
    a, b = sentinel(0), sentinel(1)
    prefix = _common_prefix(a, b)
    suffix = _common_prefix(a[::-1], b[::-1])[::-1]
    if not (a == f"{prefix}0{suffix}" and b == f"{prefix}1{suffix}"):
        return None
    if any(sentinel(n) != f"{prefix}{n}{suffix}" for n in (7, 12, 345)):
        return None
    return re.compile(re.escape(prefix) + r"(\d+)" + re.escape(suffix))


def _unmask(output: str, outputs: Sequence[str], sentinel: Callable[[int], str]) -> str | None:
    """``output`` with each sentinel replaced by its term's output, or None unless every
    sentinel is in it exactly once and no other sentinel is."""
    pattern = _sentinel_pattern(sentinel)
    if pattern is None:  # compare exact strings, longest first ("ZQ12" before "ZQ1")
        names = {sentinel(i): i for i in range(len(outputs))}
        pattern = re.compile("|".join(map(re.escape, sorted(names, key=len, reverse=True))))

        def index(found: re.Match[str]) -> int:
            return names[found.group()]
    else:

        def index(found: re.Match[str]) -> int:
            value = found.group(1)
            return int(value) if value == str(int(value)) else -1

    seen = [index(found) for found in pattern.finditer(output)]
    if sorted(seen) != list(range(len(outputs))):
        return None
    return pattern.sub(lambda found: outputs[index(found)], output)


def apply_terms(
    text: str,
    matches: Sequence[Match],
    translate: Callable[[Sequence[str]], Sequence[str]],
    sentinel: Callable[[int], str],
) -> TermResult:
    """``text`` translated with every matched term's output (``term_output``) in it,
    verbatim, once per occurrence. First masking: the matches replaced by
    ``sentinel(i)``, the masked text translated in one call, the sentinels replaced by
    the terms' outputs when each came back exactly once (``masked``). Else the fallback:
    the text cut at the matches, the pieces with letters translated in one call, and
    pieces and terms joined in order, keeping the whitespace around each term as in the
    source (pieces without letters, such as ", " or " 2024 ", are kept as they are)."""
    if not matches:
        [plain] = translate([text])
        return TermResult(plain, (), True)
    outputs = [term_output(text, m) for m in matches]
    applied = tuple(dict.fromkeys(m.term.source for m in matches))
    masked_parts, pos = [], 0
    for i, match in enumerate(matches):
        masked_parts += [text[pos : match.start], sentinel(i)]
        pos = match.end
    masked_parts.append(text[pos:])
    [translated] = translate(["".join(masked_parts)])
    unmasked = _unmask(translated, outputs, sentinel)
    if unmasked is not None:
        return TermResult(unmasked, applied, True)

    pieces, pos = [], 0
    for match in matches:
        pieces.append(text[pos : match.start])
        pos = match.end
    pieces.append(text[pos:])
    wanted = [i for i, piece in enumerate(pieces) if any(c.isalpha() for c in piece)]
    done = list(translate([pieces[i].strip() for i in wanted])) if wanted else []
    if len(done) != len(wanted):
        raise ValueError(f"translate returned {len(done)} texts for {len(wanted)}")
    for i, out in zip(wanted, done, strict=True):
        piece = pieces[i]
        lead = piece[: len(piece) - len(piece.lstrip())]
        trail = piece[len(piece.rstrip()) :]
        pieces[i] = lead + out.strip() + trail
    joined = [pieces[0]]
    for output, piece in zip(outputs, pieces[1:], strict=True):
        joined += [output, piece]
    return TermResult("".join(joined), applied, False)
