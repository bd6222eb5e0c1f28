"""Language detection with the bundled offline fastText model."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from polybrief.service.domain import Detection
from polybrief.service.text import detect
from polybrief.service.text.detect import detect_language


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


def test_unknown_labels_stay_candidates_but_the_language_is_a_known_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake(sample: str) -> list[dict[str, Any]]:
        return [{"lang": "xx-bogus", "score": 0.9}, {"lang": "qqq", "score": 0.06},
                {"lang": "fr", "score": 0.03}, {"lang": "de", "score": 0.01}]  # fmt: skip

    monkeypatch.setattr(detect, "_predict", fake)
    found = detect_language("quelque chose d'assez long pour compter")
    assert found.language == "fr"
    assert found.confidence == pytest.approx(0.03)
    assert not found.reliable
    assert found.candidates == (("xx-bogus", 0.9), ("qqq", 0.06), ("fr", 0.03))


def test_only_unknown_labels_keep_the_raw_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "_predict", lambda sample: [{"lang": "zz_9", "score": 0.8}])
    found = detect_language("some text that is long enough to count")
    assert found == Detection("zz_9", 0.8, False, (("zz_9", 0.8),))


def test_labels_are_normalised_and_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(sample: str) -> list[dict[str, Any]]:
        return [{"lang": "iw", "score": 0.7}, {"lang": "he", "score": 0.2},
                {"lang": "als", "score": 0.05}, {"lang": "eml", "score": 0.01}]  # fmt: skip

    monkeypatch.setattr(detect, "_predict", fake)
    found = detect_language("a text that is long enough to be judged")
    assert found.candidates == (("he", pytest.approx(0.9)), ("gsw", 0.05), ("egl", 0.01))
    assert found.language == "he"
    assert found.reliable


def test_every_label_of_the_model_is_a_known_code() -> None:
    # k above the label count: every label the bundled model can ever answer.
    labels = {str(g["lang"]) for g in detect._model().detect("x", model="lite", k=400)}
    assert len(labels) > 150
    unknown = {label for label in labels if detect._code(label) is None}
    assert unknown == {"nah"}  # Nahuatl languages: a language group, no ISO 639-3 code
    assert detect._code("sh") == "sh"
    assert detect._code("nds") == "nds"


@pytest.mark.parametrize(
    "text",
    [
        "Le président a parlé\ud800 à la nation ce soir, longuement.",  # lone surrogate
        "Le président a parlé\x00 à la nation ce soir, longuement.",
        "Le président\u202e a parlé à la nation\u2028 ce soir,\x0c longuement.",
    ],
)
def test_raw_uncleaned_text_does_not_crash(text: str) -> None:
    assert detect_language(text).language == "fr"


def test_long_text_sample_is_bounded_and_spread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def fake(sample: str) -> list[dict[str, Any]]:
        seen.append(sample)
        return [{"lang": "en", "score": 0.9}]

    monkeypatch.setattr(detect, "_predict", fake)
    text = "".join(f"Sentence number {i} is here.\n" for i in range(5000))
    found = detect_language(text)
    assert found.language == "en"
    assert found.confidence == pytest.approx(0.9)
    assert len(seen) > 10  # voted sentence by sentence
    assert all("\n" not in line and len(line) >= detect.MIN_SEGMENT for line in seen)
    sample = " ".join(seen)
    assert len(sample) < 3200
    assert sample.startswith("Sentence number 0 is here. Sentence number 1 ")
    assert "number 49" in sample  # the last quarter of the text is sampled too


def test_a_quote_in_another_language_does_not_flip_the_result() -> None:
    english = (
        "The minister arrived in Paris on Monday for talks on the budget. "
        "He told reporters that the negotiations would take several days. "
    )
    quote = "« C'est un bon début », a-t-il dit en français avant la réunion."
    # fastText on the whole line says French (0.75): one bag of n-grams, accents weigh.
    assert detect._predict(english + quote)[0]["lang"] == "fr"
    found = detect_language(english + quote)
    assert found.language == "en"
    assert found.reliable
    assert found.candidates[1][0] == "fr"


def test_all_caps_in_other_languages() -> None:
    german = detect_language("DER PRÄSIDENT HAT DIE MARINE ANGEWIESEN, SOFORT ZU HANDELN")
    french = detect_language("LE GOUVERNEMENT A PRÉSENTÉ SON BUDGET POUR L'ANNÉE")
    assert (german.language, french.language) == ("de", "fr")


def test_mixed_language_text() -> None:
    halves = (
        "Ich bin heute mit dem Zug nach Berlin gefahren, um meine Familie zu sehen. "
        "The train was late again and I missed the connection to the airport."
    )
    found = detect_language(halves)
    assert found.language in {"de", "en"}
    assert {"de", "en"} <= {code for code, _ in found.candidates}


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
