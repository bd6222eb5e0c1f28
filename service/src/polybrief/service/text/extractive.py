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
_NO_SPACE_SCRIPT = re.compile(r"[\u0e00-\u0eff\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_BIGRAM_SCRIPT = re.compile(r"[\u0e00-\u0eff\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km"})
LEAD_BIAS = 0.15
MIN_SENTENCE_WORDS = 4


def _tokens(sentence: str) -> list[str]:
    text = sentence.casefold()
    if _BIGRAM_SCRIPT.search(text):
        chars = [c for c in text if c.isalnum()]
        return [a + b for a, b in itertools.pairwise(chars)] or chars
    return _WORD.findall(text)


def count_words(text: str, language: str = "") -> int:
    """Words for a budget: whitespace words; scripts without spaces count 2 characters a word."""
    if language in NO_SPACE_LANGUAGES or _NO_SPACE_SCRIPT.search(text):
        return max(1, math.ceil(sum(c.isalnum() for c in text) / 2))
    return len(text.split())


def _scores(sentences: Sequence[str]) -> np.ndarray:
    bags = [Counter(_tokens(s)) for s in sentences]
    vocabulary = sorted({t for bag in bags for t in bag})
    index = {t: i for i, t in enumerate(vocabulary)}
    n = len(sentences)
    matrix = np.zeros((n, max(len(vocabulary), 1)))
    for row, bag in enumerate(bags):
        for token, tf in bag.items():
            matrix[row, index[token]] = tf
    df = (matrix > 0).sum(axis=0)
    matrix *= np.log((1 + n) / (1 + df)) + 1.0
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    similarity = matrix @ matrix.T
    np.fill_diagonal(similarity, 0.0)
    rows = similarity.sum(axis=1, keepdims=True)
    transition = np.divide(similarity, rows, out=np.full_like(similarity, 1.0 / n), where=rows > 0)
    lead = np.array([1.0 / (1 + i) for i in range(n)])
    teleport = (1 - LEAD_BIAS) / n + LEAD_BIAS * lead / lead.sum()
    rank = np.full(n, 1.0 / n)
    for _ in range(100):
        updated = 0.15 * teleport + 0.85 * (transition.T @ rank)
        if np.abs(updated - rank).sum() < 1e-9:
            break
        rank = updated
    return rank


def extract(sentences: Sequence[str], max_words: int, language: str) -> list[str]:
    """The most central sentences, whole, in original order, within ``max_words``.

    The best sentence is always kept even if it alone is over the budget: a brief never
    ends mid-sentence.
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
        if chosen and used + words > max_words:
            continue
        chosen.append(int(position))
        used += words
    return [items[i] for i in sorted(chosen)]
