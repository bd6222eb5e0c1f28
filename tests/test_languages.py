"""Language codes: BCP-47 tags read down to ISO 639 codes, helpful errors, display names."""

from __future__ import annotations

import pycountry
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
        ("ger", "de"),
        ("chi", "zh"),
        ("cmn", "zh"),  # the standard variety of a macrolanguage: the models' code
        ("cmn-Hans-CN", "zh"),
        ("arb", "ar"),
        ("sh", "sh"),  # Serbo-Croatian: a macrolanguage, not an error
        ("la", "la"),  # historical, but has an ISO 639-1 code and translation models
        ("eo", "eo"),  # constructed
        ("gsw", "gsw"),
    ],
)
def test_normalize_code_accepts_tags(raw: str, code: str) -> None:
    assert normalize_code(raw) == code


def test_underscore_tag_says_to_use_a_dash() -> None:
    with pytest.raises(LanguageCodeError, match="'en-US'"):
        normalize_code("en_US")


def test_underscore_with_script_and_region() -> None:
    with pytest.raises(LanguageCodeError, match="'zh-Hant-TW'"):
        normalize_code("zh_Hant_TW")


@pytest.mark.parametrize(("raw", "code"), [("english", "'en'"), ("French", "'fr'")])
def test_language_name_instead_of_code_suggests_the_code(raw: str, code: str) -> None:
    with pytest.raises(LanguageCodeError, match=code):
        normalize_code(raw)


@pytest.mark.parametrize("raw", ["grc", "ang", "akk"])
def test_extinct_and_ancient_three_letter_codes_are_refused(raw: str) -> None:
    with pytest.raises(LanguageCodeError, match="not a living language"):
        normalize_code(raw)


def test_huge_input_is_not_echoed_whole() -> None:
    for raw in ["x" * 100_000, "en_" + "U" * 100_000, "1" * 5000]:
        with pytest.raises(LanguageCodeError) as info:
            normalize_code(raw)
        assert len(str(info.value)) < 200


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
    [
        ("fr", "French"),
        ("el", "Greek"),
        ("en-GB", "English"),
        ("ne", "Nepali"),
        ("deu", "German"),
        ("es", "Spanish"),
        ("ia", "Interlingua"),
        ("pa", "Punjabi"),
        ("ky", "Kyrgyz"),
        ("yue", "Yue Chinese"),
    ],
)
def test_language_name(code: str, name: str) -> None:
    assert language_name(code) == name


def test_every_two_letter_code_is_accepted_and_has_a_plain_name() -> None:
    codes = [lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2")]
    assert len(codes) > 180
    for code in codes:
        assert normalize_code(code.upper()) == code
        name = language_name(code)
        assert name
        assert name[0].isupper()
        assert not set("();,") & set(name), name


def test_language_name_of_unknown_code_raises() -> None:
    with pytest.raises(LanguageCodeError):
        language_name("zz")


def test_results_are_cached() -> None:
    normalize_code.cache_clear()
    for _ in range(3):
        normalize_code("pt-BR")
    assert normalize_code.cache_info().hits == 2
