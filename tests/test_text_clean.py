"""Input clean-up: controls, bidi and invisible characters removed and counted; whitespace."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polybrief.service.text.clean import clean, has_content, has_letters


def test_removes_and_counts_controls_bidi_and_invisibles() -> None:
    raw = "a\x00b\u202ec\ufeffd\u200be\u00adf\u2066g\u200fh\x85i\x7fj\u2060k"
    result = clean(raw)
    assert result.text == "abcdefghijk"
    assert result.removed_control_characters == 10


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


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs", "Cc", "Cf"])))
def test_every_printable_character_is_kept(text: str) -> None:
    result = clean(text)
    visible = [c for c in text if (c.isalnum() or c in ".,;!?") and not c.isspace()]
    kept = iter(result.text)
    assert all(any(k == c for k in kept) for c in visible if c.isascii())
