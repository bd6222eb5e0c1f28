"""Input clean-up: Unicode NFC, line endings, and removal of characters that carry no text
but break tokenizers or hide content (controls, NULs, bidi overrides, BOMs, zero-width
spaces, soft hyphens).

ZWNJ/ZWJ (U+200C/U+200D) are kept: Persian, Indic scripts and emoji sequences need them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Invisible format characters that are removed (besides every C0/C1 control but \n and \t).
_INVISIBLE = frozenset(
    "\u00ad"  # soft hyphen
    "\u200b"  # zero-width space
    "\u200e\u200f"  # left-to-right / right-to-left marks
    "\u202a\u202b\u202c\u202d\u202e"  # bidi embeddings and overrides
    "\u2060"  # word joiner
    "\u2066\u2067\u2068\u2069"  # bidi isolates
    "\ufeff"  # byte-order mark / zero-width no-break space
)
_LINE_SEPARATORS = re.compile(r"\r\n|[\r\u2028\u2029]")
_SPACES = re.compile(r"[^\S\n]+")  # any whitespace run but newlines
_BLANKS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Cleaned:
    """Cleaned text and how many characters were removed (whitespace changes not counted)."""

    text: str
    removed_control_characters: int


def _removable(char: str) -> bool:
    if char in "\n\t":
        return False
    return char in _INVISIBLE or unicodedata.category(char) == "Cc"


def clean(text: str) -> Cleaned:
    """Cleans ``text`` for the models; idempotent.

    Line endings become ``\\n``; control, bidi and invisible characters are removed and
    counted; the rest is NFC-normalised (after the removal, so a removed soft hyphen cannot
    leave a decomposed sequence behind). Whitespace runs inside a line become one space,
    lines are stripped, three or more newlines become one blank line, the ends are stripped.
    """
    text = _LINE_SEPARATORS.sub("\n", text)
    kept = "".join(c for c in text if not _removable(c))
    removed = len(text) - len(kept)
    kept = unicodedata.normalize("NFC", kept)
    lines = (_SPACES.sub(" ", line).strip() for line in kept.split("\n"))
    result = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
    return Cleaned(result, removed)


def has_letters(text: str) -> bool:
    """At least one letter, in any script."""
    return any(c.isalpha() for c in text)


def has_content(text: str) -> bool:
    """At least one letter or digit, in any script."""
    return any(c.isalnum() for c in text)
