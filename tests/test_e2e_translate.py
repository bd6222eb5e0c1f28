"""Translate, DetectLanguage and ListCapabilities end to end on tiny real models."""

from __future__ import annotations

import pytest
from polybrief.client import Client, InvalidArgumentError, ModelNotFoundError

SENTENCES = [
    "President Vladimir Putin on Tuesday ordered the Russian navy to work with the French.",
    "The Kremlin said the two leaders agreed to ramp up cooperation.",
    "France intensified strikes on Raqa following last week's attacks in Paris.",
]


@pytest.mark.parametrize(
    ("source", "target", "kind", "models"),
    [
        ("en", "fr", "direct", ["tiny-marian-en-fr"]),
        ("fr", "ru", "multilingual", ["tiny-m2m100"]),
        ("en", "it", "multilingual", ["tiny-marian-en-mul"]),
        ("en", "uk", "multilingual", ["tiny-nllb"]),
        ("en", "ja", "multilingual", ["tiny-mbart50"]),
        ("de", "es", "pivot", ["tiny-marian-de-en", "tiny-marian-en-es"]),
    ],
)
def test_routing(client: Client, source: str, target: str, kind: str, models: list[str]) -> None:
    [result] = client.translate(SENTENCES[0], to=target, source=source)
    assert result.error is None
    assert result.route.kind == kind
    assert [s.model for s in result.route.steps] == models
    assert all(s.kind == "translate" for s in result.route.steps)
    if kind == "pivot":
        assert result.route.pivot_language == "en"
        assert [(s.source_language, s.target_language) for s in result.route.steps] == [
            (source, "en"),
            ("en", target),
        ]
    assert result.text.strip()


def test_same_language_is_returned_unchanged(client: Client) -> None:
    [result] = client.translate(SENTENCES[0], to="en", source="en")
    assert result.route.kind == "identity"
    assert result.text == SENTENCES[0]


def test_batch_keeps_order_and_detects_per_item(client: Client) -> None:
    texts = [
        SENTENCES[0],
        "Le président français a annoncé le déploiement du porte-avions Charles de Gaulle.",
        "Президент России приказал флоту работать с французами как с союзниками.",
    ]
    results = client.translate(texts, to="en")
    assert len(results) == 3
    assert [r.source_language for r in results] == ["en", "fr", "ru"]
    assert results[0].route.kind == "identity"
    assert results[1].route.steps[0].model == "tiny-marian-fr-en"
    assert results[2].route.steps[0].model == "tiny-marian-ru-en"
    for r in results:
        assert r.detected_language is not None
        assert r.detected_language.language == r.source_language


@pytest.mark.parametrize(
    ("model", "source", "target"),
    [
        ("tiny-marian-en-fr", "en", "fr"),
        ("tiny-marian-en-mul", "en", "pt"),
        ("tiny-m2m100", "en", "ru"),
        ("tiny-nllb", "en", "fr"),
        ("tiny-mbart50", "en", "fr"),
        ("tiny-t5", "en", "de"),
    ],
)
def test_service_equals_direct_generate(
    tiny_server, client: Client, model: str, source: str, target: str
) -> None:
    """The serving layer loses nothing: same output as model.generate with same settings."""
    import torch

    text = SENTENCES[1]
    [result] = client.translate(text, to=target, source=source, model=model)
    loaded = tiny_server.engine.registry.get(model)
    prepared = loaded.adapter.prepare_translation(
        loaded.tokenizer, loaded.spec, [text], source, target
    )
    with torch.inference_mode():
        out = loaded.model.generate(
            **prepared.tensors(), **dict(loaded.spec.generation), **prepared.generate_kwargs
        )
    expected = loaded.tokenizer.batch_decode(out, skip_special_tokens=True)[0].strip()
    assert result.text == expected


def test_paragraph_layout_is_kept(client: Client) -> None:
    text = f"{SENTENCES[0]}\n\n{SENTENCES[1]}\n{SENTENCES[2]}"
    [result] = client.translate(text, to="fr", source="en")
    assert result.text.count("\n\n") == 1
    assert result.text.count("\n") == 3
    assert result.route.steps[0].segments == 3


def test_long_text_reaches_the_model_completely(client: Client, record_inputs) -> None:
    # ~60 sentences, far over the 128-token window, plus one 300-word run-on sentence.
    sentences = [f"Sentence number {i} talks about the navy and the allies." for i in range(60)]
    run_on = " ".join(f"word{i}" for i in range(300))
    text = " ".join(sentences) + "\n" + run_on
    with record_inputs("tiny-marian-en-fr") as seen:
        [result] = client.translate(text, to="fr", source="en")
    assert result.error is None
    fed = " ".join(seen)
    for i in range(60):
        assert f"Sentence number {i} talks" in fed
    for i in range(300):
        assert f"word{i}" in fed.split() or f"word{i}" in fed
    assert result.route.steps[0].segments > 61  # the run-on sentence was split, not cut


def test_text_without_letters_is_returned_unchanged(client: Client) -> None:
    [result] = client.translate("🙂🙂 2015 — 129", to="fr", source="en")
    assert result.text == "🙂🙂 2015 — 129"
    assert result.route.kind == "identity"


def test_unknown_model_is_not_found(client: Client) -> None:
    with pytest.raises(ModelNotFoundError):
        client.translate("hello there", to="fr", source="en", model="no-such-model")


def test_model_override_must_serve_the_pair(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        client.translate("hello there", to="ru", source="en", model="tiny-marian-en-fr")
    assert [f for f, _ in err.value.field_violations] == ["model"]


def test_unroutable_pair_is_a_per_item_error(client: Client) -> None:
    [result] = client.translate("Bonjour à tous les amis", to="ko", source="fr")
    assert result.error is not None
    assert result.error.code == "UNSUPPORTED_LANGUAGE_PAIR"
    assert result.text == ""


def test_detect_language(client: Client) -> None:
    found = client.detect(
        [
            "Le président a ordonné à la marine de travailler avec les Français comme des alliés.",
            "Президент приказал военно-морскому флоту работать с французами как с союзниками.",
            "hi",
        ]
    )
    assert [d.language for d in found[:2]] == ["fr", "ru"]
    assert found[0].reliable
    assert found[1].reliable
    assert not found[2].reliable


def test_capabilities(client: Client) -> None:
    caps = client.capabilities()
    models = {m.id: m for m in caps.models}
    assert {"tiny-bart", "tiny-nllb", "tiny-m2m100", "tiny-mbart50", "tiny-marian-en-fr"} <= set(
        models
    )
    assert all(m.state == "loaded" for m in models.values())  # all preloaded
    assert models["tiny-marian-en-fr"].family == "marian"
    assert all(m.max_input_tokens == 128 for m in models.values())  # every tiny window
    assert ("en", "fr") in [
        (p.source_language, p.target_language) for p in models["tiny-marian-en-fr"].pairs
    ]
    langs = {lang.code: lang for lang in caps.languages}
    assert langs["fr"].translate_source
    assert langs["fr"].translate_target
    assert langs["en"].summarize_abstractive
    assert not langs["it"].summarize_abstractive
    assert caps.limits.max_target_languages == 8
    assert caps.pivot_language == "en"
