"""Language codes at the API: BCP-47 tags read down to ISO 639-1 (or 639-3) codes."""

from __future__ import annotations

import functools
import re
from typing import Any

import pycountry

_TAG = re.compile(r"^([A-Za-z]{2,3})(?:-[A-Za-z0-9]{1,8})*$")


class LanguageCodeError(ValueError):
    """A language tag that is malformed or names no known language."""


@functools.lru_cache(maxsize=1024)
def normalize_code(raw: str) -> str:
    """``"EN"``, ``"fr-FR"``, ``"fra"``, ``"zh-Hans"`` → ``"en"``, ``"fr"``, ``"fr"``, ``"zh"``."""
    tag = raw.strip()
    if "_" in tag and _TAG.match(tag.replace("_", "-")):
        raise LanguageCodeError(
            f"{raw!r} is not a BCP-47 tag: use {tag.replace('_', '-')!r} "
            f"(or just {tag.split('_')[0].lower()!r})"
        )
    match = _TAG.match(tag)
    if not match:
        raise LanguageCodeError(
            f"{raw!r} is not a language code; expected e.g. 'en', 'fr', 'pt-BR'"
        )
    language = _lookup(match.group(1).lower())
    return str(getattr(language, "alpha_2", None) or language.alpha_3)


def _lookup(code: str) -> Any:
    key = "alpha_2" if len(code) == 2 else "alpha_3"
    language = pycountry.languages.get(**{key: code})
    if language is None:
        raise LanguageCodeError(f"unknown language code {code!r}")
    return language


@functools.lru_cache(maxsize=1024)
def language_name(code: str) -> str:
    """English name of a normalised code: ``"el"`` → ``"Greek"``."""
    language = _lookup(normalize_code(code))
    name = str(language.name).split(";")[0]
    name = re.sub(r"\s*\(.*?\)", "", name).strip()
    return name.removeprefix("Modern ").strip()
