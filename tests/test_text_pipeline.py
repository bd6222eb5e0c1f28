"""The text pipeline without models: clean-up, sentences, dedupe, chunking, extraction."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polybrief.service.languages import LanguageCodeError, language_name, normalize_code
from polybrief.service.text.chunking import pack
from polybrief.service.text.clean import clean, has_content
from polybrief.service.text.extractive import count_words, extract
from polybrief.service.text.segment import build_document, split_paragraphs, split_sentences

SEED = Path(__file__).resolve().parents[1] / "examples" / "afp-putin-hollande.txt"


def _visible(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_clean_removes_controls_and_bidi_but_keeps_joiners() -> None:
    raw = "a\x00b\u202ec\ufeffd\u200be\u200df\r\ng\x07"
    result = clean(raw)
    assert result.text == "abcde\u200df\ng"
    assert result.removed_control_characters == 5


def test_clean_normalises_unicode_and_whitespace() -> None:
    assert clean("Cafe\u0301   au\t\tlait  \n\n\n\nfin ").text == "Café au lait\n\nfin"


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_clean_is_idempotent(text: str) -> None:
    once = clean(text).text
    assert clean(once).text == once
    assert clean(once).removed_control_characters == 0


def test_has_content_any_script() -> None:
    assert has_content("Привет")
    assert has_content("２０１５")
    assert not has_content("🙂 — !!")


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300))
def test_sentence_split_loses_nothing(text: str) -> None:
    for language in ("en", "ru", "xx"):
        assert _visible("".join(split_sentences(text, language))) == _visible(text)


def test_sentences_of_english_and_russian() -> None:
    assert split_sentences("Mr. Putin spoke on Tuesday. The Kremlin agreed.", "en") == [
        "Mr. Putin spoke on Tuesday.",
        "The Kremlin agreed.",
    ]
    assert len(split_sentences("Путин выступил во вторник. Кремль согласился.", "ru")) == 2


def test_paragraphs_by_blank_lines_or_lines() -> None:
    assert split_paragraphs("a b\nc\n\nd") == ["a b c", "d"]
    assert split_paragraphs("one\ntwo\n") == ["one", "two"]


def test_seed_article_duplicates_are_removed() -> None:
    text = SEED.read_text(encoding="utf-8")
    lines = [" ".join(x.split()) for x in text.splitlines() if x.strip()]
    document = build_document(text, "en")
    assert document.paragraph_count == len(set(lines))
    assert document.duplicate_paragraphs_removed == len(lines) - len(set(lines))
    assert len(set(document.sentences)) == len(document.sentences)


def test_repeated_sentence_inside_new_paragraph_is_removed() -> None:
    document = build_document("Alpha one. Beta two.\n\nGamma three. Alpha one.", "en")
    assert document.sentences == ("Alpha one.", "Beta two.", "Gamma three.")
    assert document.duplicate_sentences_removed == 1


def _words(text: str) -> int:
    return len(text.split())


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(min_size=0, max_size=80), max_size=20),
    st.integers(min_value=1, max_value=12),
)
def test_pack_loses_nothing_and_respects_the_limit(sentences: list[str], limit: int) -> None:
    def count(text: str) -> int:  # a stand-in tokenizer: one token per 3 characters
        return len(text) // 3 + 1

    chunks = pack(sentences, count, limit)
    assert _visible("".join(c.text for c in chunks)) == _visible("".join(sentences))
    assert all(count(c.text) <= limit or len(c.text) == 1 for c in chunks)


def test_pack_groups_sentences_and_splits_long_words() -> None:
    chunks = pack(["one two", "three four", "x" * 50], _words, 4)
    assert [c.text for c in chunks[:1]] == ["one two three four"]
    assert "".join(c.text for c in chunks[1:]) == "x" * 50
    with pytest.raises(ValueError, match="at least 1"):
        pack(["a"], _words, 0)


def test_extract_keeps_whole_sentences_in_order_within_budget() -> None:
    document = build_document(SEED.read_text(encoding="utf-8"), "en")
    chosen = extract(document.sentences, 60, "en")
    assert chosen
    assert sum(count_words(s) for s in chosen) <= 60
    positions = [document.sentences.index(s) for s in chosen]
    assert positions == sorted(positions)
    assert "AFP, Moscow :" not in chosen  # datelines are not brief material


def test_extract_always_keeps_one_sentence_and_handles_cjk() -> None:
    long = "word " * 100
    assert extract([long, "short one here"], 5, "en")
    assert extract(
        ["普京周二下令俄罗斯海军与法国合作。", "克里姆林宫表示双方同意加强合作。"], 100, "zh"
    )


@pytest.mark.parametrize(
    ("raw", "code"),
    [("EN", "en"), ("fr-FR", "fr"), ("fra", "fr"), ("zh-Hans", "zh"), ("pt-BR", "pt")],
)
def test_language_codes_are_normalised(raw: str, code: str) -> None:
    assert normalize_code(raw) == code


@pytest.mark.parametrize("raw", ["", "e", "english", "12", "zz", "en_US", "fr--FR"])
def test_bad_language_codes(raw: str) -> None:
    with pytest.raises(LanguageCodeError):
        normalize_code(raw)


def test_language_names() -> None:
    assert language_name("fr") == "French"
    assert language_name("el") == "Greek"
