"""Paragraphs, sentences (lossless), duplicate removal and joining."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pysbd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polybrief.service.text import segment
from polybrief.service.text.segment import (
    build_document,
    join_document,
    split_paragraphs,
    split_sentences,
)

SEED = Path(__file__).resolve().parents[1] / "examples" / "afp-putin-hollande.txt"


def _visible(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize(
    ("text", "paragraphs"),
    [
        # with a blank line anywhere, paragraphs are blank-line separated
        ("a\nb\n\n  \nc", ["a b", "c"]),
        ("a\nb\n\nc\n", ["a b", "c"]),
        ("a\nb\n\nc d", ["a b", "c d"]),
        ("a b\nc\n\nd", ["a b c", "d"]),
        ("one\n two \n\nthree", ["one two", "three"]),
        ("one\ntwo\n\n", ["one two"]),
        # without one, every line is a paragraph
        ("one\ntwo\nthree", ["one", "two", "three"]),
        ("one\ntwo\n", ["one", "two"]),
        ("  \n ", []),
    ],
)
def test_paragraphs_by_blank_lines_or_else_by_lines(text: str, paragraphs: list[str]) -> None:
    assert split_paragraphs(text) == paragraphs


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        (
            "Mr. Smith went to Washington. He said hi! Then? Ok",
            "en",
            ["Mr. Smith went to Washington.", "He said hi!", "Then?", "Ok"],
        ),
        ("Pi is 3.14 today. Yes.", "en", ["Pi is 3.14 today.", "Yes."]),
        (
            "Mr. Putin spoke on Tuesday. The Kremlin agreed.",
            "en",
            ["Mr. Putin spoke on Tuesday.", "The Kremlin agreed."],
        ),
        ("Привет. Как дела? Хорошо!", "ru", ["Привет.", "Как дела?", "Хорошо!"]),
        (
            "Путин выступил во вторник. Кремль согласился.",
            "ru",
            ["Путин выступил во вторник.", "Кремль согласился."],
        ),
        ("你好。你是谁？我很好！", "zh", ["你好。", "你是谁？", "我很好！"]),
        ("Bonjour M. Dupont. Ça va ?", "fr", ["Bonjour M. Dupont.", "Ça va ?"]),
        ("Guten Tag. Wie geht's?", "de", ["Guten Tag.", "Wie geht's?"]),
        # no pysbd rules for Swahili: English rules
        ("Habari yako. Nzuri sana.", "sw", ["Habari yako.", "Nzuri sana."]),
        # no rules for Bengali, Nepali, Tigrinya: those of a language with the same marks
        ("আমি ভাত খাই। তুমি কী খাও? ভালো।", "bn", ["আমি ভাত খাই।", "তুমি কী খাও?", "ভালো।"]),
        ("म घर जान्छु। तिमी कहाँ? ठीक छ।", "ne", ["म घर जान्छु।", "तिमी कहाँ?", "ठीक छ।"]),
        ("ሰላም ነው። እንዴት ነህ? ደህና ነኝ።", "ti", ["ሰላም ነው።", "እንዴት ነህ?", "ደህና ነኝ።"]),
        ("ئۇ كەلدى. سىز قانداق؟ ياخشى!", "ug", ["ئۇ كەلدى.", "سىز قانداق؟", "ياخشى!"]),
    ],
)
def test_split_sentences(text: str, language: str, expected: list[str]) -> None:
    assert split_sentences(text, language) == expected


def test_split_sentences_of_nothing() -> None:
    assert split_sentences("", "en") == []
    assert split_sentences(" \n ", "en") == []


def test_a_5000_character_word_is_never_cut() -> None:
    word = "x" * 5000
    sentences = split_sentences(f"Before. {word} after. Done.", "en")
    assert sentences[0] == "Before."
    assert sentences[-1] == "Done."
    assert any(word in s for s in sentences)
    assert _visible("".join(sentences)) == _visible(f"Before.{word}after.Done.")


def test_long_text_in_windows_matches_pysbd_on_the_whole_text() -> None:
    prose = " ".join(SEED.read_text(encoding="utf-8").split())
    abbreviations = 'Mr. Smith (a) "b." said e.g. the U.S.A. had 3.14 ... ok?! Yes. ' * 100
    for text in [f"{prose} {prose}", abbreviations]:
        assert len(text) > 2 * segment.WINDOW
        whole = [str(s).strip() for s in pysbd.Segmenter("en", clean=False).segment(text)]
        assert split_sentences(text, "en") == whole


def test_a_run_on_sentence_longer_than_the_window_is_cut_at_spaces() -> None:
    text = "word " * 2000 + "end."
    sentences = split_sentences(text, "en")
    assert len(sentences) > 1
    assert all(len(s) <= 2 * segment.WINDOW for s in sentences)
    assert all(s.split() and set(s.split()) <= {"word", "end."} for s in sentences)
    assert _visible("".join(sentences)) == _visible(text)


def test_abbreviation_heavy_paragraph_is_linear_not_quadratic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pysbd is quadratic in the length it is given (on this 60,000-character paragraph at
    # once, tens of times slower than in windows). Linear, whatever the machine: pysbd never
    # sees more than a window, and all it is given adds up to a bounded multiple of the text.
    text = "Mr. (a) \"b.\" 'c' e.g. i.e. U.S.A. 3.14 ... ?! " * 1300
    given: list[int] = []
    spans = segment._spans

    def recording(window: str, language: str) -> list[tuple[int, int]]:
        given.append(len(window))
        return spans(window, language)

    monkeypatch.setattr(segment, "_spans", recording)
    sentences = split_sentences(text, "en")
    assert _visible("".join(sentences)) == _visible(text)
    assert len(given) > len(text) // segment.WINDOW
    assert max(given) <= segment.WINDOW
    assert sum(given) < 2 * len(text)  # the re-read last sentences of the windows


def test_repetitive_text_is_fast_and_lossless() -> None:
    text = "Hello. " * 3000
    sentences = split_sentences(text, "en")
    assert len(sentences) == 3000
    assert _visible("".join(sentences)) == _visible(text)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.sampled_from([*"ab .!?\"'()\n-,:;…“”", "Mr. ", "3.1", "e.g.", "。", "？"])).map(
        "".join
    ),
    st.sampled_from(["en", "fr", "ru", "zh", "ja", "de", "sw"]),
)
def test_split_sentences_is_lossless(text: str, language: str) -> None:
    sentences = split_sentences(text, language)
    assert _visible("".join(sentences)) == _visible(text)
    assert all(s == s.strip() and s for s in sentences)


@settings(max_examples=60, deadline=None)
@given(st.text(), st.sampled_from(["en", "ar", "hi", "ru", "xx"]))  # xx: no such language
def test_split_sentences_is_lossless_on_any_text(text: str, language: str) -> None:
    assert _visible("".join(split_sentences(text, language))) == _visible(text)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from(["Mr. Ab", "cd.", " ", "  ", "x" * 30, "?", "\n", "3.1", "”"])).map(
        "".join
    ),
    st.integers(min_value=4, max_value=60),
)
def test_tiny_windows_are_lossless(text: str, window: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(segment, "WINDOW", window)
        sentences = split_sentences(text, "en")
    assert _visible("".join(sentences)) == _visible(text)
    assert all(s == s.strip() and s for s in sentences)


def test_segmenters_work_from_many_threads() -> None:
    texts = [f"Sentence {i} is here. And number {i} again! Done." for i in range(40)]
    results: dict[int, list[str]] = {}

    def work(i: int) -> None:
        for _ in range(5):
            results[i] = split_sentences(texts[i], "en")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, text in enumerate(texts):
        assert results[i] == split_sentences(text, "en")
        assert len(results[i]) == 3


def test_seed_story_printed_twice_is_deduplicated() -> None:
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    unique = list(dict.fromkeys(lines))
    assert len(unique) < len(lines)  # the file does repeat its story

    document = build_document(SEED.read_text(encoding="utf-8"), "en")

    assert document.duplicate_paragraphs_removed == len(lines) - len(unique)
    assert document.paragraph_count == len(unique) == len(document.paragraphs)
    assert document.duplicate_sentences_removed == 0
    expected_sentences = sum(len(split_sentences(line, "en")) for line in unique)
    assert document.sentence_count == expected_sentences == len(document.sentences)
    assert len(set(document.sentences)) == len(document.sentences)
    assert _visible("".join(document.sentences)) == _visible("".join(unique))


def test_duplicate_keys_ignore_case_space_quotes_and_dashes() -> None:
    text = (
        "He said “yes” — twice. Then he left.\n\n"
        'HE SAID "yes" - twice.   Then   he left.\n\n'
        "New paragraph. He said ‘no’. Then he left.\n\n"
        "Then he left."
    )
    document = build_document(text, "en")
    assert document.duplicate_paragraphs_removed == 1
    assert document.duplicate_sentences_removed == 2  # "Then he left." twice more
    assert document.paragraphs == (
        ("He said “yes” — twice.", "Then he left."),
        ("New paragraph.", "He said ‘no’."),
    )
    assert document.paragraph_count == 2
    assert document.sentence_count == 4
    assert document.sentences[-1] == "He said ‘no’."


def test_empty_document() -> None:
    document = build_document("", "en")
    assert document.paragraphs == ()
    assert document.paragraph_count == document.sentence_count == 0


def test_join_document() -> None:
    assert join_document([["A.", "B."], ["C."]], "en") == "A. B.\n\nC."
    assert join_document([["你好。", "再见。"], ["好。"]], "zh") == "你好。再见。\n\n好。"
    assert join_document([["こんにちは。", "はい。"]], "ja") == "こんにちは。はい。"
    assert join_document([["A."], [], ["B."]], "fr") == "A.\n\nB."
