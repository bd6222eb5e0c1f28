"""Input clean-up: Unicode NFC, line endings, and removal of characters that carry no text
but break tokenizers or hide content (controls, NULs, bidi overrides, BOMs)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Invisible format characters that are removed. ZWNJ/ZWJ (U+200C/U+200D) are kept: Persian,
# Indic scripts and emoji sequences need them.
_INVISIBLE = frozenset(
    "\u00ad\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANKS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Cleaned:
    text: str
    removed_control_characters: int


def _removable(char: str) -> bool:
    if char in "\n\t":
        return False
    return char in _INVISIBLE or unicodedata.category(char) == "Cc"


def clean(text: str) -> Cleaned:
    """Cleans ``text``; the count says how many characters were removed (not whitespace)."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    kept = [c for c in text if not _removable(c)]
    removed = len(text) - len(kept)
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(kept).split("\n"))
    result = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
    return Cleaned(result, removed)


def has_letters(text: str) -> bool:
    """At least one letter, in any script."""
    return any(c.isalpha() for c in text)


def has_content(text: str) -> bool:
    """At least one letter or digit, in any script."""
    return any(c.isalnum() for c in text)
