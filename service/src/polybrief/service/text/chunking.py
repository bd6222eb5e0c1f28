"""Packs sentences into model-window-sized chunks. Nothing is dropped: a sentence longer
than the window is split at spaces, a "word" longer than the window at characters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Counter = Callable[[str], int]


@dataclass(frozen=True)
class Chunk:
    text: str
    sentence_indices: tuple[int, ...]


def _split_word(word: str, count: Counter, max_tokens: int) -> list[str]:
    pieces = []
    rest = word
    while rest:
        lo, hi = 1, len(rest)
        while lo < hi:  # longest prefix that fits (at least one character)
            mid = (lo + hi + 1) // 2
            if count(rest[:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        pieces.append(rest[:lo])
        rest = rest[lo:]
    return pieces


def _split_sentence(sentence: str, count: Counter, max_tokens: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    for word in sentence.split():
        if count(word) > max_tokens:
            if current:
                pieces.append(" ".join(current))
                current = []
            pieces.extend(_split_word(word, count, max_tokens))
            continue
        if current and count(" ".join([*current, word])) > max_tokens:
            pieces.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        pieces.append(" ".join(current))
    return pieces


def pack(sentences: Sequence[str], count_tokens: Counter, max_tokens: int) -> list[Chunk]:
    """Groups consecutive sentences into chunks of at most ``max_tokens`` tokens."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    chunks: list[Chunk] = []
    text = ""
    indices: list[int] = []

    def flush() -> None:
        nonlocal text, indices
        if text:
            chunks.append(Chunk(text, tuple(indices)))
        text, indices = "", []

    for index, sentence in enumerate(s.strip() for s in sentences):
        if not sentence:
            continue
        if count_tokens(sentence) > max_tokens:
            flush()
            chunks.extend(
                Chunk(piece, (index,))
                for piece in _split_sentence(sentence, count_tokens, max_tokens)
            )
            continue
        candidate = f"{text} {sentence}" if text else sentence
        if text and count_tokens(candidate) > max_tokens:
            flush()
            candidate = sentence
        text = candidate
        indices.append(index)
    flush()
    return chunks
