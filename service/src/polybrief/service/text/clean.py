"""Input clean-up: Unicode NFC, line endings, and removal of characters that carry no text
but break tokenizers or hide content (controls, NULs, bidi overrides, BOMs, zero-width
spaces, soft hyphens). Line and page separators (``\r``, ``\f``, ``\v``, NEL, U+2028/9)
become line breaks rather than disappearing, so words on either side stay apart.

ZWNJ/ZWJ (U+200C/U+200D) are kept: Persian, Indic scripts and emoji sequences need them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Removed: C0/C1 controls but \t and \n (line and page separators are replaced first), lone
# surrogates (possible in a Python str, never encodable), and invisible format characters.
_REMOVED = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # controls
    "\u00ad"  # soft hyphen
    "\u061c"  # Arabic letter mark (a bidi mark)
    "\u200b"  # zero-width space
    "\u200e\u200f"  # left-to-right / right-to-left marks
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u2064"  # word joiner, invisible math operators
    "\u2066-\u2069"  # bidi isolates
    "\u206a-\u206f"  # deprecated shaping/digit controls
    "\ud800-\udfff"  # lone surrogates
    "\ufeff"  # byte-order mark / zero-width no-break space
    "\ufff9-\ufffb"  # interlinear annotation controls
    "\ufffe\uffff]"  # noncharacters
)
# Controls that separate lines or pages: they become a line break (not counted as
# removed), so that the words on either side do not run together.
_LINE_SEPARATORS = re.compile(r"\r\n|[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"[^\S\n]+")  # any whitespace run but newlines
_BLANKS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Cleaned:
    """Cleaned text and how many characters were removed (whitespace changes not counted)."""

    text: str
    removed_control_characters: int


def clean(text: str, *, markup: bool = False) -> Cleaned:
    """Cleans ``text`` for the models; idempotent.

    Line endings become ``\\n``; control, bidi and invisible characters are removed and
    counted; the rest is NFC-normalised (after the removal, so a removed soft hyphen cannot
    leave a decomposed sequence behind). Whitespace runs inside a line become one space,
    lines are stripped, three or more newlines become one blank line, the ends are stripped
    — except in ``markup`` (HTML, Markdown), whose whitespace is part of the document
    (indentation, ``pre``, code blocks) and stays as it is.
    """
    text = _LINE_SEPARATORS.sub("\n", text)
    kept, removed = _REMOVED.subn("", text)
    kept = unicodedata.normalize("NFC", kept)
    if markup:
        return Cleaned(kept, removed)
    lines = (_SPACES.sub(" ", line).strip() for line in kept.split("\n"))
    result = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
    return Cleaned(result, removed)


def has_letters(text: str) -> bool:
    """At least one letter, in any script."""
    return any(c.isalpha() for c in text)


def has_content(text: str) -> bool:
    """At least one letter or digit, in any script."""
    return any(c.isalnum() for c in text)
