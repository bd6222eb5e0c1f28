"""Packing sentences into model windows: fits, nothing dropped, few tokenizer calls."""

from __future__ import annotations

import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polybrief.service.text.chunking import Chunk, _longest, pack


def _visible(text: str) -> str:
    return re.sub(r"\s+", "", text)


class Words:
    """A counter: whitespace words plus ``special`` tokens per call; records its calls."""

    def __init__(self, special: int = 0) -> None:
        self.special = special
        self.calls: list[str] = []

    def __call__(self, text: str) -> int:
        self.calls.append(text)
        return len(text.split()) + self.special


def chars(text: str) -> int:
    return len(text)


def test_groups_consecutive_sentences_greedily() -> None:
    sentences = ["a b c", "d e", "f g h i", "j"]
    chunks = pack(sentences, Words(), 5)
    assert chunks == [
        Chunk("a b c d e", (0, 1)),
        Chunk("f g h i j", (2, 3)),
    ]


def test_each_sentence_fits_alone() -> None:
    chunks = pack(["a b c", "d e f"], Words(), 3)
    assert [c.sentence_indices for c in chunks] == [(0,), (1,)]


def test_empty_sentences_are_skipped_but_indices_kept() -> None:
    chunks = pack(["a", "  ", "", "b"], Words(), 10)
    assert chunks == [Chunk("a b", (0, 3))]
    assert pack([], Words(), 10) == []
    assert pack(["", " "], Words(), 10) == []


def test_a_long_sentence_is_split_at_spaces() -> None:
    sentence = " ".join(f"w{i}" for i in range(23))
    chunks = pack(["short one", sentence, "tail"], Words(), 5)
    assert chunks[0] == Chunk("short one", (0,))
    middle = [c for c in chunks if c.sentence_indices == (1,)]
    assert len(middle) == 5
    assert all(len(c.text.split()) <= 5 for c in middle)
    assert " ".join(c.text for c in middle) == sentence
    assert chunks[-1] == Chunk("tail", (2,))


def test_a_5000_character_word_is_split_by_characters() -> None:
    word = "x" * 5000
    chunks = pack([f"before {word} after"], chars, 512)
    assert all(len(c.text) <= 512 for c in chunks)
    assert _visible("".join(c.text for c in chunks)) == "before" + word + "after"
    assert len(chunks) == 1 + 5000 // 512 + 1 + 1  # before, word pieces, after


def test_special_tokens_are_counted_once_per_chunk() -> None:
    counter = Words(special=2)
    chunks = pack(["a b", "c d", "e f"], counter, 8)
    assert chunks == [Chunk("a b c d e f", (0, 1, 2))]
    assert all(counter(c.text) <= 8 for c in chunks)


def test_even_one_character_over_the_limit_still_ends() -> None:
    # Every call costs 3 special tokens: nothing fits a window of 2, yet nothing is lost.
    chunks = pack(["ab cd"], Words(special=3), 2)
    assert [c.text for c in chunks] == ["a", "b", "c", "d"]


def test_underestimated_joins_are_verified_and_split() -> None:
    def joins_cost(text: str) -> int:
        return len(text.split()) + 3 * text.count(" ")  # a join costs far more than assumed

    chunks = pack(["a", "b", "c", "d", "e", "f"], joins_cost, 5)
    assert all(joins_cost(c.text) <= 5 for c in chunks)
    assert [i for c in chunks for i in c.sentence_indices] == [0, 1, 2, 3, 4, 5]


def test_tokenizer_calls_are_rationed() -> None:
    counter = Words()
    sentences = [f"sentence {i} has five words" for i in range(200)]
    chunks = pack(sentences, counter, 100)
    assert all(len(c.text.split()) <= 100 for c in chunks)
    # one call per sentence, one for the overhead, one check per packed chunk
    assert len(counter.calls) <= len(sentences) + 1 + len(chunks)
    assert sum(len(call) for call in counter.calls) < 3 * sum(len(s) for s in sentences)


@pytest.mark.parametrize("limit", [0, -5])
def test_max_tokens_must_be_positive(limit: int) -> None:
    with pytest.raises(ValueError, match="max_tokens must be at least 1"):
        pack(["a"], Words(), limit)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        # mostly words, spaces and dots; sometimes any Unicode at all
        st.text(alphabet=st.sampled_from("ab c\n.x"), max_size=60) | st.text(max_size=80),
        max_size=15,
    ),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=0, max_value=2),
)
def test_pack_is_lossless_and_fits(sentences: list[str], limit: int, special: int) -> None:
    def count(text: str) -> int:
        return len(text) // 3 + len(text.split()) + special

    chunks = pack(sentences, count, limit)
    joined = "".join(c.text for c in chunks)
    assert _visible(joined) == _visible("".join(sentences))
    single_char = 1 + 1 + special  # one character cannot be split further
    assert all(count(c.text) <= max(limit, single_char) for c in chunks)
    assert all(c.text and c.text == c.text.strip() for c in chunks)
    order = [i for c in chunks for i in c.sentence_indices]
    assert order == sorted(order)


def test_a_100000_character_word_costs_few_counts() -> None:
    counted: list[int] = []

    def thirds(text: str) -> int:  # about three characters a token, plus one special token
        counted.append(len(text))
        return -(-len(text) // 3) + 1

    word = "x" * 100_000
    chunks = pack([word], thirds, 512)
    assert "".join(c.text for c in chunks) == word
    assert all(thirds(c.text) <= 512 for c in chunks)
    assert len(chunks) == -(-len(word) // (511 * 3))  # every piece but the last is full
    assert sum(counted) < 5 * len(word)  # bisecting over the whole rest: ~500x


def test_a_sentence_of_20000_words_is_not_counted_word_by_word() -> None:
    counter = Words()
    sentence = " ".join(f"w{i}" for i in range(20_000))
    chunks = pack([sentence], counter, 500)
    assert [c.text for c in chunks] == [
        " ".join(f"w{i}" for i in range(start, start + 500)) for start in range(0, 20_000, 500)
    ]
    assert len(counter.calls) < 200


def test_an_over_long_word_inside_a_sentence_is_cut_and_its_neighbours_kept() -> None:
    sentence = "alpha beta " + "y" * 40 + " gamma"
    chunks = pack([sentence], chars, 12)
    texts = [c.text for c in chunks]
    assert texts == ["alpha beta", *["y" * 12] * 3, "y" * 4, "gamma"]
    assert {c.sentence_indices for c in chunks} == {(0,)}


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab "), max_size=80),
    st.integers(min_value=1, max_value=3),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=1, max_value=100),
)
def test_longest_prefix_agrees_with_brute_force(
    text: str, per_token: int, special: int, limit: int, guess: int
) -> None:
    def count(piece: str) -> int:
        return -(-len(piece) // per_token) + special

    size = len(text)
    expected = max((k for k in range(1, size + 1) if count(text[:k]) <= limit), default=0)
    if size:
        assert _longest(lambda k: text[:k], size, count, limit, guess) == expected


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from("abc xyz."), max_size=40), max_size=10),
    st.integers(min_value=1, max_value=8),
)
def test_pack_survives_an_erratic_counter(sentences: list[str], limit: int) -> None:
    # Real tokenizers are not monotone (a longer text can take fewer tokens): packing must
    # still end, lose nothing, and emit only chunks that were seen to fit (or one character).
    def erratic(text: str) -> int:
        return len(text.split()) + zlib.crc32(text.encode()) % 3

    chunks = pack(sentences, erratic, limit)
    assert _visible("".join(c.text for c in chunks)) == _visible("".join(sentences))
    assert all(erratic(c.text) <= limit or len(c.text) == 1 for c in chunks)
