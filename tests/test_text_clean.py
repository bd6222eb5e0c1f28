"""Input clean-up: controls, bidi and invisible characters removed and counted; whitespace."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polybrief.service.text.clean import clean, has_content, has_letters

#: id: (raw input, cleaned text, characters removed)
CLEANED: dict[str, tuple[str, str, int]] = {
    "controls-bidi-invisibles": (
        "a\x00b\u202ec\ufeffd\u200be\u00adf\u2066g\u200fh\x9bi\x7fj\u2060k\u061cl\x1bm",
        "abcdefghijklm",
        12,
    ),
    # a zero-width joiner between letters is text; CR LF is a line ending; BEL goes
    "joiner-kept-between-removals": (
        "a\x00b\u202ec\ufeffd\u200be\u200df\r\ng\x07",
        "abcde\u200df\ng",
        5,
    ),
    "lone-surrogates": ("caf\ud800é \udfff!", "café !", 2),
    # "Trojan source": an RLO makes "txt.exe" display as "exe.txt".
    "bidi-override": ("open report\u202eexe.txt\u202c now", "open reportexe.txt now", 2),
    "joiners-newlines-tabs": (
        "می\u200cخواهم\t👨\u200d👩\u200d👧\nnext",
        "می\u200cخواهم 👨\u200d👩\u200d👧\nnext",
        0,
    ),
    "line-endings": ("one\r\ntwo\rthree\u2028four", "one\ntwo\nthree\nfour", 0),
    "whitespace-and-nfc": (
        "  Cafe\u0301   au\t\tlait  \n\n\n\n  fin   \n",
        "Café au lait\n\nfin",
        0,
    ),
    # A soft hyphen between a letter and its combining accent blocks composition until
    # removed: NFC is applied after removal.
    "nfc-after-removal": ("e\u00ad\u0301", "\u00e9", 1),
    # page and line separators keep the words on either side apart
    **{
        name: (f"end of page{sep}Next page", "end of page\nNext page", 0)
        for sep, name in [
            ("\f", "form-feed"),
            ("\v", "vertical-tab"),
            ("\x85", "next-line"),
            ("\x1c", "file-separator"),
            ("\x1e", "record-separator"),
            ("\u2029", "paragraph-separator"),
        ]
    },
}


@pytest.mark.parametrize(("raw", "text", "removed"), list(CLEANED.values()), ids=list(CLEANED))
def test_clean(raw: str, text: str, removed: int) -> None:
    result = clean(raw)
    assert result.text == text
    assert result.removed_control_characters == removed
    result.text.encode("utf-8")  # nothing unencodable is left


@pytest.mark.parametrize("raw", ["", "   \n\t ", "\x00\x01\u202e"])
def test_nothing_left(raw: str) -> None:
    assert clean(raw).text == ""


@pytest.mark.parametrize(
    ("text", "content", "letters"),
    [
        ("Привет", True, True),
        ("你好", True, True),
        ("مرحبا", True, True),
        ("2024", True, False),
        ("２０１５", True, False),  # full-width digits
        ("٣", True, False),  # Arabic-Indic digit
        ("🙂🙂 !! …", False, False),
        ("🙂 — !!", False, False),
        ("🙂", False, False),
    ],
)
def test_content_and_letters_in_any_script(text: str, content: bool, letters: bool) -> None:
    assert has_content(text) is content
    assert has_letters(text) is letters


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
