"""Packs sentences into model-window-sized chunks. Nothing is dropped: a sentence longer
than the window is split at spaces, a "word" longer than the window at characters.

Token counting is a tokenizer call, so it is rationed: every sentence is counted once, a
group's size is estimated as the sum of its members (special tokens counted once), and
only the finished chunk is counted for real; a chunk that turns out too big is cut back to
its longest prefix that fits. Over-long sentences and words are cut by galloping search
(a few counts per piece), not by counting every word.
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


def _longest(
    prefix: Callable[[int], str], size: int, count: Counter, max_tokens: int, guess: int
) -> int:
    """The largest ``k`` ≤ ``size`` whose ``prefix(k)`` fits ``max_tokens`` (0: none does).

    Galloping from ``guess`` (steps of 1, 2, 4... up or down), then bisecting: the strings
    counted stay near the answer's length, and a good guess (the previous piece's length)
    costs about two counts.
    """
    fits, over = 0, size + 1  # prefix lengths known to fit / not to fit (size + 1: unknown)
    probe = max(1, min(guess, size))
    step = 1
    while True:
        if count(prefix(probe)) <= max_tokens:
            fits = probe
            if probe == size or over <= size:
                break
            probe = min(probe + step, size)
        else:
            over = probe
            if fits or probe == 1:
                break
            probe = max(probe - step, 1)
        step *= 2
    while over - fits > 1:
        middle = (fits + over) // 2
        if count(prefix(middle)) <= max_tokens:
            fits = middle
        else:
            over = middle
    return fits


def _words_from(words: Sequence[str], start: int) -> Callable[[int], str]:
    """``k`` → the first ``k`` of ``words[start:]``, joined by spaces."""
    return lambda k: " ".join(words[start : start + k])


def _chars_from(text: str) -> Callable[[int], str]:
    """``k`` → the first ``k`` characters of ``text``."""
    return lambda k: text[:k]


def _split_word(word: str, count: Counter, max_tokens: int) -> list[str]:
    """Longest fitting prefixes of ``word`` (at least one character each, so it ends)."""
    pieces = []
    rest = word
    guess = max_tokens  # a token is rarely less than a character
    while rest:
        size = max(1, _longest(_chars_from(rest), len(rest), count, max_tokens, guess))
        pieces.append(rest[:size])
        rest = rest[size:]
        guess = size
    return pieces


def _split_sentence(sentence: str, count: Counter, max_tokens: int) -> list[str]:
    """A too-long sentence as runs of words that fit; a word that does not fit alone is
    cut at characters."""
    words = sentence.split()
    if len(words) == 1:  # already counted, over the limit
        return _split_word(words[0], count, max_tokens)
    pieces: list[str] = []
    start = 0
    guess = max(1, max_tokens // 2)
    while start < len(words):
        size = _longest(_words_from(words, start), len(words) - start, count, max_tokens, guess)
        if size == 0:
            pieces.extend(_split_word(words[start], count, max_tokens))
            start += 1
        else:
            pieces.append(" ".join(words[start : start + size]))
            start += size
            guess = size
    return pieces


def _fit(
    texts: Sequence[str], count: Counter, max_tokens: int, overhead: int
) -> list[tuple[int, int, bool]]:
    """Greedy runs ``(start, end, fits)`` of consecutive ``texts``; only a run of a single
    text over the limit does not fit.

    Each text is counted once; a run grows while the estimate (sum of its texts' counts,
    the per-call ``overhead`` counted once, ``JOIN_ALLOWANCE`` per join) fits. A run of
    several texts is then counted for real, and if the estimate was low it is cut back to
    its longest fitting prefix and the rest starts the next run.
    """
    sizes = [count(t) for t in texts]
    runs: list[tuple[int, int, bool]] = []
    start = 0
    while start < len(texts):
        end = start + 1
        used = sizes[start]
        while end < len(texts) and used <= max_tokens:
            extra = sizes[end] - overhead + JOIN_ALLOWANCE
            if used + extra > max_tokens:
                break
            used += extra
            end += 1
        if end - start > 1 and count(" ".join(texts[start:end])) > max_tokens:
            run = end - start
            fitting = _longest(_words_from(texts, start), run, count, max_tokens, run - 1)
            end = start + max(1, fitting)  # a single text fits: it was counted alone
        runs.append((start, end, end - start > 1 or sizes[start] <= max_tokens))
        start = end
    return runs


def pack(sentences: Sequence[str], count_tokens: Counter, max_tokens: int) -> list[Chunk]:
    """Groups consecutive sentences (joined by a space) into chunks of ≤ ``max_tokens``.

    Nothing is dropped: the chunks hold every non-whitespace character of the input in
    order. A sentence over the limit becomes several chunks (each with that sentence's
    index). If even one character counts over ``max_tokens`` (e.g. the count includes
    special tokens), one-character chunks are still emitted.

    Raises:
        ValueError: ``max_tokens`` is less than 1.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    kept = [(i, s.strip()) for i, s in enumerate(sentences) if s.strip()]
    if not kept:
        return []
    indices = [i for i, _ in kept]
    texts = [s for _, s in kept]
    # Tokens every call adds (special tokens, a task prefix): counted once per chunk.
    overhead = max(0, count_tokens(""))
    chunks: list[Chunk] = []
    for start, end, fits in _fit(texts, count_tokens, max_tokens, overhead):
        if fits:
            chunks.append(Chunk(" ".join(texts[start:end]), tuple(indices[start:end])))
        else:
            pieces = _split_sentence(texts[start], count_tokens, max_tokens)
            chunks.extend(Chunk(piece, (indices[start],)) for piece in pieces)
    return chunks
