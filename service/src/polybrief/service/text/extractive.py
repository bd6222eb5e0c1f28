"""An extractive summariser that needs no model weights and works for any language:
sentences ranked by centrality (LexRank: TF-IDF cosine graph, power iteration) with a
mild lead bias for news, then taken whole, in their original order, within a word budget."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+")
# Scripts written without spaces between words (Thai, Lao, Khmer, kana, CJK ideographs):
# character bigrams stand in for words. Hangul is spaced but agglutinative: bigrams too.
_UNSPACED = "\u0e00-\u0eff\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff"
_NO_SPACE_SCRIPT = re.compile(f"[{_UNSPACED}]")
_BIGRAM_SCRIPT = re.compile(f"[{_UNSPACED}\uac00-\ud7af]")
LEAD_BIAS = 0.15
DAMPING = 0.85
MIN_SENTENCE_WORDS = 4


def _tokens(sentence: str) -> list[str]:
    text = sentence.casefold()
    if _BIGRAM_SCRIPT.search(text):
        chars = [c for c in text if c.isalnum()]
        return [a + b for a, b in itertools.pairwise(chars)] or chars
    return _WORD.findall(text)


def count_words(text: str, language: str = "") -> int:
    """Words for a budget: whitespace-separated words; in scripts written without spaces
    (Chinese, Japanese, Thai...) two letters or digits count as one word.

    The script of the text decides, not ``language`` (a Latin-script quote in a Chinese
    text is counted by its spaces only if the text has no unspaced script at all).
    """
    if _NO_SPACE_SCRIPT.search(text):
        return math.ceil(sum(c.isalnum() for c in text) / 2)
    return len(text.split())


def _similarity(sentences: Sequence[str]) -> np.ndarray:
    """Cosine similarity of the sentences' TF-IDF vectors.

    Tokens found in one sentence only change the norms, not any dot product, so the matrix
    is built over shared tokens only (keeps long documents fast).
    """
    bags = [Counter(_tokens(s)) for s in sentences]
    n = len(bags)
    df: Counter[str] = Counter(t for bag in bags for t in bag)
    shared = sorted(t for t, d in df.items() if d > 1)
    index = {t: i for i, t in enumerate(shared)}
    matrix = np.zeros((n, max(len(shared), 1)))
    norms = np.zeros(n)
    for row, bag in enumerate(bags):
        for token, tf in bag.items():
            weight = tf * (math.log((1 + n) / (1 + df[token])) + 1.0)
            norms[row] += weight * weight
            if token in index:
                matrix[row, index[token]] = weight
    norms = np.sqrt(norms)[:, None]
    matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return np.asarray(matrix @ matrix.T)


def _scores(sentences: Sequence[str]) -> np.ndarray:
    """LexRank centrality with a teleport biased toward the first sentences."""
    n = len(sentences)
    similarity = _similarity(sentences)
    np.fill_diagonal(similarity, 0.0)
    rows = similarity.sum(axis=1, keepdims=True)
    transition = np.divide(similarity, rows, out=np.full_like(similarity, 1.0 / n), where=rows > 0)
    lead = np.array([1.0 / (1 + i) for i in range(n)])
    teleport = (1 - LEAD_BIAS) / n + LEAD_BIAS * lead / lead.sum()
    rank = np.full(n, 1.0 / n)
    for _ in range(100):
        updated = (1 - DAMPING) * teleport + DAMPING * (transition.T @ rank)
        if np.abs(updated - rank).sum() < 1e-9:
            break
        rank = updated
    return rank


def extract(sentences: Sequence[str], max_words: int, language: str) -> list[str]:
    """The most central sentences, whole, in their original order, within ``max_words``.

    Unsupervised (no weights), for any language; deterministic. Sentences are taken by
    rank while the total stays within the budget; if no sentence fits, the best one is
    returned alone: a brief never ends mid-sentence and is never empty (for non-empty input).
    """
    items = [s.strip() for s in sentences if s.strip()]
    # Datelines and bylines ("AFP, Moscow :") are not brief material when real sentences exist.
    substantial = [s for s in items if count_words(s, language) >= MIN_SENTENCE_WORDS]
    items = substantial or items
    if len(items) <= 1:
        return items
    ranking = np.argsort(-_scores(items), kind="stable")
    chosen: list[int] = []
    used = 0
    for position in ranking:
        words = count_words(items[position], language)
        if used + words > max_words:
            continue
        chosen.append(int(position))
        used += words
    if not chosen:
        chosen = [int(ranking[0])]
    return [items[i] for i in sorted(chosen)]
