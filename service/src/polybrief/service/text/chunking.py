"""Packs sentences into model-window-sized chunks. Nothing is dropped: a sentence longer
than the window is split at spaces, a "word" longer than the window at characters.

Token counting is a tokenizer call, so it is rationed: every sentence (or word) is counted
once, a group's size is estimated as the sum of its members (special tokens counted once),
and only the finished chunk is counted for real; a chunk that turns out too big is cut
back to its longest prefix that fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Counter = Callable[[str], int]
JOIN_ALLOWANCE = 0  # tokens a " " join is assumed to add (wrong guesses are verified)


@dataclass(frozen=True)
class Chunk:
    """Text of at most the window's tokens, and the indices of the sentences it holds."""

    text: str
    sentence_indices: tuple[int, ...]


def _split_word(word: str, count: Counter, max_tokens: int) -> list[str]:
    """Longest fitting prefixes of ``word`` (at least one character each, so it ends)."""
    pieces = []
    rest = word
    while rest:
        lo, hi = 1, len(rest)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(rest[:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        pieces.append(rest[:lo])
        rest = rest[lo:]
    return pieces


def _fit(
    texts: Sequence[str], count: Counter, max_tokens: int, overhead: int
) -> list[tuple[list[int], bool]]:
    """Greedy runs of consecutive ``texts`` that fit ``max_tokens``, each with whether it
    fits (only a single text over the limit does not).

    Each text is counted once; a run grows while the estimate (sum of its texts' counts,
    the per-call ``overhead`` counted once, ``JOIN_ALLOWANCE`` per join) fits. A run of
    several texts is then counted for real, and if the estimate was low it is cut back to
    its longest fitting prefix (binary search) and the rest starts the next run.
    """
    sizes = [count(t) for t in texts]
    groups: list[tuple[list[int], bool]] = []
    start = 0
    while start < len(texts):
        end = start + 1
        used = sizes[start]
        while end < len(texts):
            extra = sizes[end] - overhead + JOIN_ALLOWANCE
            if used > max_tokens or used + extra > max_tokens:
                break
            used += extra
            end += 1
        if end - start > 1 and count(" ".join(texts[start:end])) > max_tokens:
            lo, hi = start + 1, end - 1  # texts[start:lo] fits: a single text does
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if count(" ".join(texts[start:mid])) <= max_tokens:
                    lo = mid
                else:
                    hi = mid - 1
            end = lo
        groups.append((list(range(start, end)), end - start > 1 or sizes[start] <= max_tokens))
        start = end
    return groups


def _split_sentence(sentence: str, count: Counter, max_tokens: int, overhead: int) -> list[str]:
    """A too-long sentence as word groups that fit; over-long words cut at characters."""
    words = sentence.split()
    pieces: list[str] = []
    for members, fits in _fit(words, count, max_tokens, overhead):
        text = " ".join(words[i] for i in members)
        if not fits:
            pieces.extend(_split_word(text, count, max_tokens))
        else:
            pieces.append(text)
    return pieces


def pack(sentences: Sequence[str], count_tokens: Counter, max_tokens: int) -> list[Chunk]:
    """Groups consecutive sentences (joined by a space) into chunks of ≤ ``max_tokens``.

    Nothing is dropped: the chunks hold every non-whitespace character of the input in
    order. If even one character counts over ``max_tokens`` (e.g. the count includes
    special tokens), one-character chunks are still emitted.

    Raises:
        ValueError: ``max_tokens`` is less than 1.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    stripped = [(i, s.strip()) for i, s in enumerate(sentences)]
    stripped = [(i, s) for i, s in stripped if s]
    if not stripped:
        return []
    indices = [i for i, _ in stripped]
    texts = [s for _, s in stripped]
    # Tokens every call adds (special tokens, a task prefix): counted once per chunk.
    overhead = max(0, count_tokens(""))
    chunks: list[Chunk] = []
    for members, fits in _fit(texts, count_tokens, max_tokens, overhead):
        text = " ".join(texts[i] for i in members)
        if not fits:
            index = indices[members[0]]
            chunks.extend(
                Chunk(piece, (index,))
                for piece in _split_sentence(text, count_tokens, max_tokens, overhead)
            )
        else:
            chunks.append(Chunk(text, tuple(indices[i] for i in members)))
    return chunks
