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


def count_words(text: str) -> int:
    """Words for a budget: whitespace-separated words; in scripts written without spaces
    (Chinese, Japanese, Thai...) two letters or digits count as one word.

    The script of the text decides, not its language (a Latin-script quote in a Chinese
    text is counted by its spaces only if the text has no unspaced script at all).
    """
    if _NO_SPACE_SCRIPT.search(text):
        return math.ceil(sum(c.isalnum() for c in text) / 2)
    return len(text.split())


class _Similarity:
    """The cosine similarity of the sentences' TF-IDF vectors, never materialised.

    ``S = M Mᵀ`` with M the L2-normalised TF-IDF rows, held sparse (COO arrays): a product
    ``S x`` costs the number of non-zero entries, so a document of thousands of sentences
    needs neither an n×n matrix nor an n×vocabulary one. Tokens found in one sentence only
    change the norms, not any dot product, so M keeps only shared tokens.
    """

    def __init__(self, sentences: Sequence[str]) -> None:
        bags = [Counter(_tokens(s)) for s in sentences]
        n = len(bags)
        df: Counter[str] = Counter(t for bag in bags for t in bag)
        index = {t: i for i, t in enumerate(sorted(t for t, d in df.items() if d > 1))}
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        norms = np.zeros(n)
        for row, bag in enumerate(bags):
            for token, tf in sorted(bag.items()):
                weight = tf * (math.log((1 + n) / (1 + df[token])) + 1.0)
                norms[row] += weight * weight
                if token in index:
                    rows.append(row)
                    cols.append(index[token])
                    values.append(weight)
        self.n, self.vocabulary = n, len(index)
        self.rows = np.array(rows, dtype=np.intp)
        self.cols = np.array(cols, dtype=np.intp)
        norm = np.sqrt(norms)[self.rows] if rows else np.zeros(0)
        self.values = np.array(values) / np.where(norm > 0, norm, 1.0)
        # S's diagonal (a sentence's similarity to itself) is left out of the graph.
        self.diagonal = np.bincount(self.rows, weights=self.values**2, minlength=n)

    def times(self, x: np.ndarray) -> np.ndarray:
        """``(S - diag(S)) x``."""
        mtx = np.bincount(self.cols, weights=self.values * x[self.rows], minlength=self.vocabulary)
        product = np.bincount(self.rows, weights=self.values * mtx[self.cols], minlength=self.n)
        return np.asarray(product - self.diagonal * x)


def _scores(sentences: Sequence[str]) -> np.ndarray:
    """LexRank centrality (continuous, cosine weights) with a teleport biased toward the
    first sentences; a sentence similar to no other spreads its rank evenly."""
    n = len(sentences)
    similarity = _Similarity(sentences)
    degree = similarity.times(np.ones(n))
    dangling = degree <= 1e-12
    lead = np.array([1.0 / (1 + i) for i in range(n)])
    teleport = (1 - LEAD_BIAS) / n + LEAD_BIAS * lead / lead.sum()
    rank = np.full(n, 1.0 / n)
    for _ in range(100):
        spread = similarity.times(np.where(dangling, 0.0, rank / np.where(dangling, 1.0, degree)))
        walk = spread + rank[dangling].sum() / n
        updated = (1 - DAMPING) * teleport + DAMPING * walk
        if np.abs(updated - rank).sum() < 1e-9:
            return np.asarray(updated)
        rank = updated
    return rank


def extract(sentences: Sequence[str], max_words: int) -> list[str]:
    """The most central sentences, whole, in their original order, within ``max_words``.

    Unsupervised (no weights), for any language; deterministic. Sentences are taken by
    rank, each one that still fits the budget (a longer one is passed over for a shorter
    one further down), a sentence equal to one taken (ignoring case and spacing) never
    twice; if no sentence fits, the best one is returned alone: a brief never ends
    mid-sentence and is never empty (for non-empty input).
    """
    items = [s.strip() for s in sentences if s.strip()]
    # Datelines and bylines ("AFP, Moscow :") are not brief material when real sentences exist.
    substantial = [s for s in items if count_words(s) >= MIN_SENTENCE_WORDS]
    items = substantial or items
    if len(items) <= 1:
        return items
    ranking = np.argsort(-_scores(items), kind="stable")
    chosen: list[int] = []
    taken: set[str] = set()
    used = 0
    for position in ranking:
        words = count_words(items[position])
        key = " ".join(items[position].casefold().split())
        if used + words > max_words or key in taken:
            continue
        chosen.append(int(position))
        taken.add(key)
        used += words
    if not chosen:
        chosen = [int(ranking[0])]
    return [items[i] for i in sorted(chosen)]
