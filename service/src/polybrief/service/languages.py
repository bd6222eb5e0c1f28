"""Language codes at the API: BCP-47 tags read down to ISO 639-1 (or 639-3) codes.

``normalize_code`` accepts any case and drops region, script and variant subtags
(``"EN"``, ``"fr-FR"``, ``"zh-Hans"``, ``"pt-BR"`` → ``"en"``, ``"fr"``, ``"zh"``, ``"pt"``);
three-letter codes become the two-letter one where it exists (``"fra"`` → ``"fr"``).
Everything else raises :class:`LanguageCodeError` with a message that says what to send.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pycountry

# primary subtag, then any number of 1-8 character subtags (region, script, variant...).
_TAG = re.compile(r"([A-Za-z]{2,3})(?:-[A-Za-z0-9]{1,8})*")
# Withdrawn ISO 639-1 codes still sent by old clients and some detectors.
_DEPRECATED = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro"}
# ISO 639-2 special codes: valid, but they name no language a model can serve.
_SPECIAL = {"und", "mul", "mis", "zxx"}


class LanguageCodeError(ValueError):
    """A language tag that is malformed or names no known language."""


@functools.lru_cache(maxsize=1024)
def normalize_code(raw: str) -> str:
    """The ISO 639 code of a BCP-47 tag.

    ``"EN"``, ``"fr-FR"``, ``"fra"``, ``"zh-Hans"`` → ``"en"``, ``"fr"``, ``"fr"``, ``"zh"``;
    a language without a two-letter code keeps its three letters (``"yue"``).

    Raises:
        LanguageCodeError: the tag is malformed (``"en_US"``, ``"english"``, ``""``) or
            names no known language (``"zz"``).
    """
    tag = raw.strip()
    if not tag:
        raise LanguageCodeError("empty language code; expected e.g. 'en', 'fr', 'pt-BR'")
    if "_" in tag and _TAG.fullmatch(tag.replace("_", "-")):
        dashed = tag.replace("_", "-")
        primary = dashed.split("-")[0].lower()
        raise LanguageCodeError(
            f"{raw!r} is not a BCP-47 tag: use {dashed!r} (or just {primary!r})"
        )
    match = _TAG.fullmatch(tag)
    if not match:
        raise LanguageCodeError(f"{raw!r} is not a language code{_name_hint(tag)}")
    language = _lookup(match.group(1).lower())
    return str(getattr(language, "alpha_2", None) or language.alpha_3)


def _name_hint(tag: str) -> str:
    """Suggests the code when a language name was sent instead (``"English"`` → ``'en'``)."""
    if len(tag) < 4 or not tag.replace(" ", "").isalpha():
        return "; expected an ISO 639 code such as 'en', 'fr' or a tag such as 'pt-BR'"
    try:
        language = pycountry.languages.lookup(tag)
    except LookupError:
        return "; expected an ISO 639 code such as 'en', 'fr' or a tag such as 'pt-BR'"
    code = getattr(language, "alpha_2", None) or language.alpha_3
    return f"; send the ISO 639 code {code!r} for {language.name}"


def _lookup(code: str) -> Any:
    code = _DEPRECATED.get(code, code)
    if code in _SPECIAL:
        raise LanguageCodeError(
            f"{code!r} names no specific language; send a language code, or none to detect it"
        )
    if len(code) == 2:
        language = pycountry.languages.get(alpha_2=code)
    else:
        language = pycountry.languages.get(alpha_3=code) or pycountry.languages.get(
            bibliographic=code
        )
    if language is None:
        raise LanguageCodeError(f"unknown language code {code!r}; expected e.g. 'en', 'fr', 'de'")
    return language


@functools.lru_cache(maxsize=1024)
def language_name(code: str) -> str:
    """English name of a language code: ``"fr"`` → ``"French"``, ``"el"`` → ``"Greek"``.

    Raises:
        LanguageCodeError: as :func:`normalize_code`.
    """
    language = _lookup(normalize_code(code))
    name = str(language.name).split(";")[0]
    name = re.sub(r"\s*\(.*?\)", "", name).strip()
    return name.removeprefix("Modern ").strip() or str(language.name)
