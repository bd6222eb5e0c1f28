"""Input clean-up: controls, bidi and invisible characters removed and counted; whitespace."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polybrief.service.text.clean import clean, has_content, has_letters


def test_removes_and_counts_controls_bidi_and_invisibles() -> None:
    raw = "a\x00b\u202ec\ufeffd\u200be\u00adf\u2066g\u200fh\x9bi\x7fj\u2060k\u061cl\x1bm"
    result = clean(raw)
    assert result.text == "abcdefghijklm"
    assert result.removed_control_characters == 12


def test_lone_surrogates_are_removed_so_the_text_encodes() -> None:
    result = clean("caf\ud800é \udfff!")
    assert result.text == "café !"
    assert result.removed_control_characters == 2
    result.text.encode("utf-8")


@pytest.mark.parametrize("separator", ["\f", "\v", "\x85", "\x1c", "\x1e", "\u2029"])
def test_page_and_line_separators_keep_words_apart(separator: str) -> None:
    result = clean(f"end of page{separator}Next page")
    assert result.text == "end of page\nNext page"
    assert result.removed_control_characters == 0


def test_bidi_override_attack_is_neutralised() -> None:
    # "Trojan source": an RLO makes "txt.exe" display as "exe.txt".
    result = clean("open report\u202eexe.txt\u202c now")
    assert result.text == "open reportexe.txt now"
    assert result.removed_control_characters == 2


def test_keeps_joiners_newlines_and_tabs_as_text() -> None:
    persian = "می\u200cخواهم"
    family = "👨\u200d👩\u200d👧"
    result = clean(f"{persian}\t{family}\nnext")
    assert result.text == f"{persian} {family}\nnext"
    assert result.removed_control_characters == 0


def test_line_endings_are_not_counted_as_removed() -> None:
    result = clean("one\r\ntwo\rthree\u2028four")
    assert result.text == "one\ntwo\nthree\nfour"
    assert result.removed_control_characters == 0


def test_whitespace_is_normalised() -> None:
    raw = "  Cafe\u0301   au\t\tlait  \n\n\n\n  fin   \n"
    assert clean(raw).text == "Café au lait\n\nfin"


def test_nfc_is_applied_after_removal() -> None:
    # A soft hyphen between a letter and its combining accent blocks composition until removed.
    result = clean("e\u00ad\u0301")
    assert result.text == "\u00e9"
    assert result.removed_control_characters == 1


@pytest.mark.parametrize("raw", ["", "   \n\t ", "\x00\x01\u202e"])
def test_nothing_left(raw: str) -> None:
    assert clean(raw).text == ""


def test_content_and_letters_in_any_script() -> None:
    assert has_letters("Привет")
    assert has_letters("你好")
    assert has_letters("مرحبا")
    assert has_content("2024")
    assert not has_letters("2024")
    assert has_content("٣")  # Arabic-Indic digit
    assert not has_content("🙂🙂 !! …")
    assert not has_letters("🙂")


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_clean_is_idempotent(text: str) -> None:
    once = clean(text)
    twice = clean(once.text)
    assert twice.text == once.text
    assert twice.removed_control_characters == 0


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(categories=["L", "N", "P", "S", "Zs"], include_characters="\n\t\r")))
def test_visible_text_is_never_lost(text: str) -> None:
    # Only whitespace changes (and NFC, which may recompose characters).
    result = clean(text).text
    assert "".join(result.split()) == "".join(unicodedata.normalize("NFC", text).split())


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(exclude_categories=())))  # surrogates and controls included
def test_output_is_encodable_and_free_of_controls(text: str) -> None:
    result = clean(text)
    result.text.encode("utf-8")
    assert result.text == result.text.strip()
    assert "\n\n\n" not in result.text
    for char in result.text:
        assert char in "\n\t\u200c\u200d" or unicodedata.category(char) not in {"Cc", "Cs"}
    assert not set(result.text) & set("\t\u202e\u2066\ufeff\u200b\u00ad\u200e\x00")
