"""Language codes: BCP-47 tags read down to ISO 639 codes, helpful errors, display names."""

from __future__ import annotations

import pytest
from polybrief.service.languages import LanguageCodeError, language_name, normalize_code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("fr-FR", "fr"),
        ("fr-fr", "fr"),
        ("zh-Hans", "zh"),
        ("zh-Hant-TW", "zh"),
        ("pt-BR", "pt"),
        ("sr-Latn-RS", "sr"),
        ("fra", "fr"),
        ("FRA", "fr"),
        ("fre", "fr"),  # ISO 639-2/B
        ("deu", "de"),
        ("yue", "yue"),  # no two-letter code: stays three letters
        ("iw", "he"),  # withdrawn code
        (" de ", "de"),
    ],
)
def test_normalize_code_accepts_tags(raw: str, code: str) -> None:
    assert normalize_code(raw) == code


def test_underscore_tag_says_to_use_a_dash() -> None:
    with pytest.raises(LanguageCodeError, match="'en-US'"):
        normalize_code("en_US")


def test_language_name_instead_of_code_suggests_the_code() -> None:
    with pytest.raises(LanguageCodeError, match="'en'"):
        normalize_code("english")


@pytest.mark.parametrize(
    "raw", ["", "   ", "e", "12", "en-", "en--US", "e1", "x-klingon", "zz", "qaa"]
)
def test_malformed_or_unknown_codes_raise(raw: str) -> None:
    with pytest.raises(LanguageCodeError) as info:
        normalize_code(raw)
    assert isinstance(info.value, ValueError)
    assert str(info.value)


@pytest.mark.parametrize("raw", ["und", "mul", "zxx"])
def test_special_codes_are_not_languages(raw: str) -> None:
    with pytest.raises(LanguageCodeError, match="no specific language"):
        normalize_code(raw)


@pytest.mark.parametrize(
    ("code", "name"),
    [("fr", "French"), ("el", "Greek"), ("en-GB", "English"), ("ne", "Nepali"), ("deu", "German")],
)
def test_language_name(code: str, name: str) -> None:
    assert language_name(code) == name


def test_language_names_have_no_qualifiers() -> None:
    for code in ["ar", "fa", "sw", "ms", "nb", "ht", "zh", "ja", "ko", "uk", "es", "ca", "ro"]:
        name = language_name(code)
        assert name
        assert "(" not in name
        assert ";" not in name


def test_language_name_of_unknown_code_raises() -> None:
    with pytest.raises(LanguageCodeError):
        language_name("zz")
