"""Language codes at the API: BCP-47 tags read down to ISO 639-1 (or 639-3) codes.

``normalize_code`` accepts any case and drops region, script and variant subtags
(``"EN"``, ``"fr-FR"``, ``"zh-Hans"``, ``"pt-BR"`` → ``"en"``, ``"fr"``, ``"zh"``, ``"pt"``);
three-letter codes become the two-letter one where it exists (``"fra"`` → ``"fr"``).
Which codes exist is pycountry's ISO 639-3 table: living (or constructed) individual
languages and macrolanguages, plus every language that has an ISO 639-1 code (Latin,
Sanskrit). Everything else raises :class:`LanguageCodeError` with a message that says
what to send.
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
# The standard variety of a macrolanguage, sent as its own 639-3 code, means the
# macrolanguage's two-letter code that models are published under ("cmn" → "zh").
_STANDARD_VARIETY = {
    "arb": "ar", "azj": "az", "cmn": "zh", "ekk": "et", "khk": "mn", "lvs": "lv",
    "npi": "ne", "ory": "or", "pes": "fa", "plt": "mg", "swh": "sw", "uzn": "uz",
    "zsm": "ms",
}  # fmt: skip
# ISO 639-2 special codes: valid, but they name no language a model can serve.
_SPECIAL = {"und", "mul", "mis", "zxx"}
# Names people use, where ISO's reference name is an older or rarer spelling.
_COMMON_NAMES = {
    "dv": "Dhivehi", "ht": "Haitian Creole", "kl": "Greenlandic", "ky": "Kyrgyz",
    "li": "Limburgish", "or": "Odia", "pa": "Punjabi", "ps": "Pashto", "to": "Tongan",
    "ug": "Uyghur",
}  # fmt: skip
_EXAMPLES = "expected an ISO 639 code such as 'en', 'fr' or a tag such as 'pt-BR'"


class LanguageCodeError(ValueError):
    """A language tag that is malformed or names no known language."""


def _shown(raw: str) -> str:
    """``raw`` quoted for an error message, shortened: it is user input of any size."""
    return repr(raw) if len(raw) <= 40 else repr(raw[:37] + "...")


@functools.lru_cache(maxsize=1024)
def normalize_code(raw: str) -> str:
    """The ISO 639 code of a BCP-47 tag.

    ``"EN"``, ``"fr-FR"``, ``"fra"``, ``"zh-Hans"`` → ``"en"``, ``"fr"``, ``"fr"``, ``"zh"``;
    a language without a two-letter code keeps its three letters (``"yue"``).

    Raises:
        LanguageCodeError: the tag is malformed (``"en_US"``, ``"english"``, ``""``) or
            names no known living language (``"zz"``, ``"grc"``).
    """
    tag = raw.strip()
    if not tag:
        raise LanguageCodeError(f"empty language code; {_EXAMPLES}")
    if "_" in tag and _TAG.fullmatch(tag.replace("_", "-")):
        dashed = tag.replace("_", "-")
        primary = dashed.split("-")[0].lower()
        raise LanguageCodeError(
            f"{_shown(raw)} is not a BCP-47 tag: use {dashed!r} (or just {primary!r})"
        )
    match = _TAG.fullmatch(tag)
    if not match:
        raise LanguageCodeError(f"{_shown(raw)} is not a language code; {_name_hint(tag)}")
    language = _lookup(match.group(1).lower())
    return str(getattr(language, "alpha_2", None) or language.alpha_3)


def _name_hint(tag: str) -> str:
    """Suggests the code when a language name was sent instead (``"English"`` → ``'en'``)."""
    if len(tag) < 4 or len(tag) > 60 or not tag.replace(" ", "").isalpha():
        return _EXAMPLES
    try:
        language = pycountry.languages.lookup(tag)
    except LookupError:
        return _EXAMPLES
    code = getattr(language, "alpha_2", None) or language.alpha_3
    return f"send the ISO 639 code {code!r} for {language.name}"


def _lookup(code: str) -> Any:
    """pycountry's record for a lower-case two- or three-letter code, if it is servable."""
    code = _DEPRECATED.get(code, code)
    code = _STANDARD_VARIETY.get(code, code)
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
    living = language.type in {"L", "C"} and language.scope in {"I", "M"}
    if not living and not hasattr(language, "alpha_2"):
        raise LanguageCodeError(
            f"{code!r} ({language.name}) is not a living language; expected e.g. 'en', 'fr'"
        )
    return language


@functools.lru_cache(maxsize=1024)
def language_name(code: str) -> str:
    """English name of a language code: ``"fr"`` → ``"French"``, ``"el"`` → ``"Greek"``.

    Raises:
        LanguageCodeError: as :func:`normalize_code`.
    """
    normalized = normalize_code(code)
    if normalized in _COMMON_NAMES:
        return _COMMON_NAMES[normalized]
    full = str(_lookup(normalized).name)
    name = re.sub(r"\s*\(.*?\)", "", full.split(";", maxsplit=1)[0]).strip()
    return name.removeprefix("Modern ").strip() or full
