"""Paragraphs, sentences (pysbd, language-aware) and duplicate removal."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import pysbd

NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my"})
_BLANK_LINE = re.compile(r"\n\s*\n")
_local = threading.local()
_QUOTES = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "–": "-", "—": "-"}
)


def _segmenter(language: str) -> pysbd.Segmenter:
    # pysbd segmenters keep per-call state, so each thread gets its own.
    cache: dict[str, pysbd.Segmenter] = _local.__dict__.setdefault("segmenters", {})
    code = language if language in pysbd.languages.LANGUAGE_CODES else "en"
    if code not in cache:
        cache[code] = pysbd.Segmenter(language=code, clean=False)
    return cache[code]


def split_paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs; without blank lines, one paragraph per line."""
    blocks = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return [" ".join(b.split()) for b in blocks if b.strip()]


def split_sentences(text: str, language: str) -> list[str]:
    """Sentences of ``text`` by the rules of ``language`` (English rules when unsupported)."""
    if not text.strip():
        return []
    return [s.strip() for s in _segmenter(language).segment(text) if s.strip()]


def dedupe_key(text: str) -> str:
    """Key under which two spellings of the same sentence or paragraph are equal."""
    return " ".join(text.translate(_QUOTES).casefold().split())


@dataclass(frozen=True)
class Document:
    """A text as paragraphs of sentences, with duplicates removed and counted."""

    paragraphs: tuple[tuple[str, ...], ...]
    duplicate_paragraphs_removed: int
    duplicate_sentences_removed: int

    @property
    def paragraph_count(self) -> int:
        return len(self.paragraphs)

    @property
    def sentences(self) -> tuple[str, ...]:
        return tuple(s for p in self.paragraphs for s in p)

    @property
    def sentence_count(self) -> int:
        return sum(len(p) for p in self.paragraphs)


def build_document(text: str, language: str) -> Document:
    """Splits ``text`` and drops repeated paragraphs, then repeated sentences."""
    seen_paragraphs: set[str] = set()
    seen_sentences: set[str] = set()
    paragraphs: list[tuple[str, ...]] = []
    dup_paragraphs = dup_sentences = 0
    for paragraph in split_paragraphs(text):
        key = dedupe_key(paragraph)
        if key in seen_paragraphs:
            dup_paragraphs += 1
            continue
        seen_paragraphs.add(key)
        kept = []
        for sentence in split_sentences(paragraph, language):
            skey = dedupe_key(sentence)
            if skey in seen_sentences:
                dup_sentences += 1
                continue
            seen_sentences.add(skey)
            kept.append(sentence)
        if kept:
            paragraphs.append(tuple(kept))
    return Document(tuple(paragraphs), dup_paragraphs, dup_sentences)


def join_document(paragraphs: Sequence[Sequence[str]], language: str) -> str:
    """Sentences joined by a space (none for scripts without spaces), paragraphs by a blank line."""
    joiner = "" if language in NO_SPACE_LANGUAGES else " "
    return "\n\n".join(joiner.join(p) for p in paragraphs if p)
