"""Language detection with the bundled offline fastText model."""

from __future__ import annotations

import pytest
from polybrief.service.text.detect import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("President Vladimir Putin ordered the Russian navy to work with the French.", "en"),
        ("Le président a ordonné à la marine de travailler avec les Français.", "fr"),
        ("Президент приказал флоту работать с французами как с союзниками.", "ru"),
        ("Der Präsident hat die Marine angewiesen, mit den Franzosen zu arbeiten.", "de"),
        ("PRESIDENT PUTIN ORDERED THE NAVY TO WORK WITH THE FRENCH AS ALLIES", "en"),
        ("Le président a parlé.\nLa marine est partie.\nLes alliés attendent.", "fr"),
    ],
)
def test_detects_news_sentences(text: str, language: str) -> None:
    found = detect_language(text)
    assert found.language == language
    assert found.reliable
    assert found.candidates[0][0] == language
    assert 0.5 <= found.confidence <= 1.0


def test_short_text_is_unreliable() -> None:
    assert not detect_language("hi").reliable


def test_no_letters_is_empty_not_a_crash() -> None:
    found = detect_language("🙂🙂 123 !!")
    assert found.language == ""
    assert found.confidence == 0.0
    assert not found.reliable
