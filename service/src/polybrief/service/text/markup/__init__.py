"""Formatted input (HTML, Markdown): what to translate, and the document rebuilt around
the translations with the same structure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Translates a batch of texts (same order, same length). Inline markup reaches it as
#: paired placeholders made by ``Placeholders``; it may mangle or drop them.
TranslateBatch = Callable[[Sequence[str]], list[str]]


@dataclass(frozen=True)
class Placeholders:
    """How inline markup is masked in a text sent to the model: ``open(i)`` and
    ``close(i)`` for the i-th inline element of a unit (the engine picks forms its model's
    tokenizer keeps intact, as the glossary does)."""

    open: Callable[[int], str]
    close: Callable[[int], str]


DEFAULT_PLACEHOLDERS = Placeholders(lambda i: f"<x{i}>", lambda i: f"</x{i}>")


@dataclass(frozen=True)
class Rebuilt:
    """The translated document and where the placeholders did not survive."""

    text: str
    units: int  # units of translation sent
    # one note per unit that went through the fallback, e.g. "paragraph 3: <a> placeholder lost"
    fallbacks: tuple[str, ...]
