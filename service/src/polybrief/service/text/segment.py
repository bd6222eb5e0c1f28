"""Paragraphs, sentences (pysbd, language-aware) and duplicate removal.

pysbd quirks handled here: with ``clean=False`` its ``Segmenter.segment`` maps the
processed sentences back onto the input with a regex search from the start of the text for
every sentence (quadratic on repetitive text) and silently drops any sentence its processor
altered; it also keeps per-call state on the segmenter (not thread-safe). So the processor
is called directly (one segmenter per thread and language), its sentences are aligned on
the input here, and the input is cut at the aligned boundaries: every character of the
input lands in exactly one sentence. The processor itself is quadratic on long paragraphs
(60,000 abbreviation-heavy characters: ~8 s), so text is given to it in windows.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import pysbd

NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my"})
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_SPACE = re.compile(r"\s")
WINDOW = 2500  # characters given to pysbd at once
_local = threading.local()
_QUOTES = str.maketrans(
    {
        "“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "″": '"',
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "‹": "'", "›": "'",
        "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
    }
)  # fmt: skip


# Languages pysbd has no rules for, read with the rules of a language that ends sentences
# with the same marks (English rules would miss the danda "।", "።" or "؟").
_SAME_PUNCTUATION = {
    "as": "hi", "bn": "hi", "mai": "hi", "ne": "hi", "or": "hi", "pa": "hi", "sa": "hi",
    "ti": "am", "ckb": "ar", "ug": "ar", "ps": "fa", "ks": "ur", "sd": "ur",
    "wuu": "zh", "yue": "zh",
}  # fmt: skip


def _segmenter(language: str) -> pysbd.Segmenter:
    """This thread's segmenter for ``language`` (pysbd's keeps per-call state)."""
    cache: dict[str, pysbd.Segmenter] = _local.__dict__.setdefault("segmenters", {})
    code = _SAME_PUNCTUATION.get(language, language)
    code = code if code in pysbd.languages.LANGUAGE_CODES else "en"
    if code not in cache:
        cache[code] = pysbd.Segmenter(language=code, clean=False)
    return cache[code]


def split_paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs; without blank lines, one paragraph per line.

    Whitespace inside a paragraph (line breaks included) is collapsed to single spaces.
    """
    blocks = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return [" ".join(b.split()) for b in blocks if b.strip()]


def _boundaries(text: str, pieces: Sequence[str]) -> list[int]:
    """End offsets in ``text`` of the pieces found where they should start."""
    ends: list[int] = []
    cursor = 0
    for raw in pieces:
        piece = raw.strip()
        if not piece:
            continue
        start = cursor
        while start < len(text) and text[start].isspace():
            start += 1
        # A piece the processor rewrote is not found here: it is merged into the next one
        # instead of being lost.
        if text.startswith(piece, start):
            cursor = start + len(piece)
            ends.append(cursor)
    return ends


def _spans(text: str, language: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``; together they cover every
    non-whitespace character."""
    try:
        pieces = [str(p) for p in _segmenter(language).processor(text).process()]
    except Exception:  # a segmenter bug must not fail a request: no cuts, one sentence
        pieces = []
    cuts = [0, *_boundaries(text, pieces), len(text)]
    return [(a, b) for a, b in itertools.pairwise(cuts) if text[a:b].strip()]


def _window_end(text: str, start: int) -> int:
    """Where the window from ``start`` ends: at a space in the second half of ``WINDOW``
    characters, else at the first space after (a long word is never cut), else the end."""
    limit = start + WINDOW
    if limit >= len(text):
        return len(text)
    for i in range(limit, start + WINDOW // 2, -1):
        if text[i].isspace():
            return i
    space = _SPACE.search(text, limit)
    return space.start() if space else len(text)


def split_sentences(text: str, language: str) -> list[str]:
    """Sentences of ``text`` by the rules of ``language`` (English rules when unsupported).

    Lossless: the sentences hold every non-whitespace character of ``text``, in order.
    Long text is read in windows of about ``WINDOW`` characters (pysbd is quadratic on
    long text): the last sentence of a window is read again with the text after it, and a
    run of more than ``WINDOW`` characters without a sentence end is cut at a space.
    """
    sentences: list[str] = []
    start = 0
    while start < len(text):
        end = _window_end(text, start)
        spans = _spans(text[start:end], language)
        if end < len(text) and len(spans) > 1:
            spans.pop()  # may go on past the cut: segmented again with what follows
            following = start + spans[-1][1]
        else:
            following = end
        sentences.extend(text[start + a : start + b].strip() for a, b in spans)
        start = following
    return sentences


def dedupe_key(text: str) -> str:
    """Key under which two spellings of the same sentence or paragraph are equal."""
    return " ".join(text.translate(_QUOTES).casefold().split())


@dataclass(frozen=True)
class Document:
    """A text as paragraphs of sentences, with duplicates removed and counted."""

    paragraphs: tuple[tuple[str, ...], ...]
    paragraph_count: int
    duplicate_paragraphs_removed: int
    duplicate_sentences_removed: int
    sentence_count: int

    @property
    def sentences(self) -> tuple[str, ...]:
        """All sentences in order, paragraphs flattened."""
        return tuple(s for p in self.paragraphs for s in p)


def build_document(text: str, language: str) -> Document:
    """Splits ``text`` into paragraphs and sentences, dropping repeats.

    A paragraph whose :func:`dedupe_key` equals an earlier paragraph's is dropped; in the
    paragraphs kept, a sentence equal to an earlier sentence anywhere is dropped, and a
    paragraph left empty disappears.
    """
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
            sentence_key = dedupe_key(sentence)
            if sentence_key in seen_sentences:
                dup_sentences += 1
                continue
            seen_sentences.add(sentence_key)
            kept.append(sentence)
        if kept:
            paragraphs.append(tuple(kept))
    return Document(
        paragraphs=tuple(paragraphs),
        paragraph_count=len(paragraphs),
        duplicate_paragraphs_removed=dup_paragraphs,
        duplicate_sentences_removed=dup_sentences,
        sentence_count=sum(len(p) for p in paragraphs),
    )


def sentence_joiner(language: str) -> str:
    """What goes between two sentences: a space, or nothing for scripts without spaces."""
    return "" if language in NO_SPACE_LANGUAGES else " "


def join_document(paragraphs: Sequence[Sequence[str]], language: str) -> str:
    """Sentences joined by a space ("" for zh, ja, th...), paragraphs by a blank line."""
    joiner = sentence_joiner(language)
    return "\n\n".join(joiner.join(p) for p in paragraphs if p)
