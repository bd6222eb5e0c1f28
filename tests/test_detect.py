"""Language detection with the bundled offline fastText model."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from polybrief.service.domain import Detection
from polybrief.service.text import detect
from polybrief.service.text.detect import detect_language, detect_many


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("President Vladimir Putin ordered the Russian navy to work with the French.", "en"),
        ("Le président a ordonné à la marine de travailler avec les Français.", "fr"),
        ("Президент приказал флоту работать с французами как с союзниками.", "ru"),
        ("Der Präsident hat die Marine angewiesen, mit den Franzosen zu arbeiten.", "de"),
        ("PRESIDENT PUTIN ORDERED THE NAVY TO WORK WITH THE FRENCH AS ALLIES", "en"),
        ("Le président a parlé.\nLa marine est partie.\r\nLes alliés attendent.", "fr"),
        ("北京是中华人民共和国的首都，也是全国的政治中心。", "zh"),
    ],
)
def test_detects_news_sentences(text: str, language: str) -> None:
    found = detect_language(text)
    assert found.language == language
    assert found.reliable
    assert found.candidates[0] == (language, found.confidence)
    assert 0.5 <= found.confidence <= 1.0
    assert 1 <= len(found.candidates) <= 3
    assert len({code for code, _ in found.candidates}) == len(found.candidates)


def test_long_text_uses_start_and_samples() -> None:
    french = "Le gouvernement a présenté son budget pour l'année prochaine. " * 200
    found = detect_language(french)
    assert found.language == "fr"
    assert found.reliable


def test_short_text_is_unreliable() -> None:
    found = detect_language("hi")
    assert not found.reliable
    assert found.language  # still a best guess


@pytest.mark.parametrize("text", ["🙂🙂🙂", "123 456", "!!! ...", "🙂🙂 123 !!"])
def test_no_letters_is_empty_not_a_crash(text: str) -> None:
    assert detect_language(text) == Detection("", 0.0, False, ())


def test_unknown_detector_labels_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(sample: str) -> list[dict[str, Any]]:
        return [{"lang": "xx-bogus", "score": 0.9}, {"lang": "eml", "score": 0.06},
                {"lang": "fr", "score": 0.03}]  # fmt: skip

    monkeypatch.setattr(detect, "_predict", fake)
    found = detect_language("quelque chose d'assez long pour compter")
    assert found.language == "fr"
    assert found.confidence == pytest.approx(0.03)
    assert not found.reliable


def test_only_unknown_labels_keep_the_raw_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "_predict", lambda sample: [{"lang": "zz_9", "score": 0.8}])
    found = detect_language("some text that is long enough to count")
    assert found == Detection("zz_9", 0.8, False, ())


def test_detect_many_keeps_order_in_a_mixed_batch() -> None:
    texts = [
        "The weather is lovely today and we are going to the beach.",
        "Das Wetter ist heute schön und wir gehen an den Strand.",
        "🙂",
    ]
    assert [d.language for d in detect_many(texts)] == ["en", "de", ""]


def test_concurrent_detection_is_consistent() -> None:
    texts = ["Das Wetter ist heute schön und wir gehen an den Strand."] * 4 + [
        "El tiempo es muy bueno hoy y vamos a la playa con amigos."
    ] * 4
    results: list[str] = [""] * len(texts)

    def work(i: int) -> None:
        for _ in range(20):
            results[i] = detect_language(texts[i]).language

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["de"] * 4 + ["es"] * 4


def test_model_is_the_bundled_file() -> None:
    assert detect._MODEL_PATH.is_file()
    config = detect._model().config
    assert config.custom_model_path == str(detect._MODEL_PATH)
