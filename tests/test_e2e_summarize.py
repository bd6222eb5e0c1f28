"""Summarize end to end: real server, real client, tiny real models of every family."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from polybrief.client import Client, InvalidArgumentError
from polybrief.service.inference import words_to_tokens

SEED = Path(__file__).resolve().parents[1] / "examples" / "afp-putin-hollande.txt"


def _story() -> str:
    return SEED.read_text(encoding="utf-8")


def _duplicate_lines(text: str) -> int:
    seen: set[str] = set()
    dupes = 0
    for line in (x.strip() for x in text.splitlines()):
        if not line:
            continue
        key = " ".join(line.split()).casefold()
        dupes += key in seen
        seen.add(key)
    return dupes


def test_seed_article_briefs_in_three_languages(client: Client) -> None:
    result = client.summarize(_story(), to=["en", "fr", "ru"], source="en")

    assert [b.language for b in result.briefs] == ["en", "fr", "ru"]
    for brief in result.briefs:
        assert brief.error is None
        assert brief.text.strip()
        assert brief.mode == "abstractive"
    en, fr, ru = result.briefs
    assert [s.kind for s in en.route.steps] == ["summarize"]
    assert en.route.steps[0].model == "tiny-bart"
    assert en.route.kind == "identity"
    assert [(s.kind, s.model) for s in fr.route.steps] == [
        ("summarize", "tiny-bart"),
        ("translate", "tiny-marian-en-fr"),
    ]
    assert fr.route.kind == "direct"
    assert ru.route.steps[-1].model == "tiny-marian-en-ru"


def test_duplicated_story_is_deduplicated_and_reported(client: Client) -> None:
    story = _story()
    result = client.summarize(story, source="en")
    report = result.pipeline
    expected = _duplicate_lines(story)
    assert expected >= 10  # the feed delivered the story twice
    assert report.duplicate_paragraphs_removed == expected
    assert report.paragraphs == len(
        {" ".join(x.split()).casefold() for x in story.splitlines() if x.strip()}
    )


def test_long_article_is_summarised_by_map_reduce(client: Client) -> None:
    # Every tiny model has a 128-token window; the article is far longer.
    result = client.summarize(_story(), source="en")
    assert result.pipeline.chunks_summarized > 1
    assert result.pipeline.reduce_rounds >= 2
    assert result.briefs[0].route.steps[0].segments == result.pipeline.chunks_summarized


def test_every_sentence_reaches_the_summariser(tiny_server, client: Client, record_inputs) -> None:
    story = _story()
    with record_inputs("tiny-bart") as seen:
        client.summarize(story, source="en")
    fed = " ".join(seen)
    words = lambda s: re.findall(r"\w+", s.casefold())  # noqa: E731
    fed_words = " ".join(words(fed))
    for line in story.splitlines():
        if line.strip():
            assert " ".join(words(line)) in fed_words, line


def test_source_language_is_detected(client: Client) -> None:
    result = client.summarize(_story(), to=["fr"])
    assert result.source_language == "en"
    assert result.detected_language is not None
    assert result.detected_language.language == "en"
    assert result.detected_language.confidence > 0.5


def test_extractive_mode_keeps_whole_sentences_within_budget(client: Client) -> None:
    story = _story()
    result = client.summarize(story, source="en", mode="extractive", max_words=40)
    brief = result.briefs[0]
    assert brief.mode == "extractive"
    assert brief.route.steps[0].kind == "extract"
    assert brief.text
    assert len(brief.text.split()) <= 40 or brief.route.steps[0].segments == 1
    lines = [x.strip() for x in story.splitlines() if x.strip()]
    # each selected sentence is a verbatim sentence (or line) of the article
    assert any(brief.text.startswith(line[:40]) for line in lines)


def test_language_without_summariser_falls_back_to_extractive_and_says_so(client: Client) -> None:
    text = (
        "Il presidente ha ordinato alla marina di collaborare con i francesi. "
        "La decisione è arrivata dopo gli attacchi di Parigi. "
        "I due leader si incontreranno a Mosca il 26 novembre."
    )
    result = client.summarize(text, source="it", max_words=20)
    brief = result.briefs[0]
    assert brief.mode == "extractive"
    assert "it" in brief.fallback_reason
    assert brief.text in text


def test_multilingual_summariser_serves_other_languages(client: Client) -> None:
    text = (
        "Le président russe a ordonné à sa marine de travailler avec les Français. "
        "Les deux pays coordonneront leurs frappes en Syrie."
    )
    result = client.summarize(text, source="fr")
    assert result.briefs[0].mode == "abstractive"
    assert result.briefs[0].route.steps[0].model == "tiny-mt5"


@pytest.mark.parametrize("model", ["tiny-bart", "tiny-pegasus", "tiny-t5", "tiny-mt5"])
def test_summariser_equals_direct_generate(tiny_server, client: Client, model: str) -> None:
    text = "President Vladimir Putin on Tuesday ordered the Russian navy to work with the French."
    result = client.summarize(text, source="en", model=model, max_words=60)
    assert result.briefs[0].route.steps[0].model == model

    loaded = tiny_server.engine.registry.get(model)
    prepared = loaded.adapter.prepare_summary(loaded.tokenizer, loaded.spec, [text], "en")
    settings = dict(loaded.spec.generation)
    settings["max_new_tokens"] = min(int(settings["max_new_tokens"]), words_to_tokens(60))
    import torch

    with torch.inference_mode():
        out = loaded.model.generate(**prepared.tensors(), **settings, **prepared.generate_kwargs)
    expected = loaded.tokenizer.batch_decode(out, skip_special_tokens=True)[0].strip()
    assert result.briefs[0].text == expected


def test_summariser_override_must_serve_the_language(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        client.summarize("Le président a parlé aux militaires.", source="fr", model="tiny-bart")
    assert [f for f, _ in err.value.field_violations] == ["model"]


def test_pivot_route_in_a_brief(client: Client) -> None:
    text = "Der Präsident hat die Marine angewiesen, mit den Franzosen zusammenzuarbeiten."
    result = client.summarize(text, source="de", to=["es"], mode="extractive")
    brief = result.briefs[0]
    assert brief.error is None
    assert brief.route.kind == "pivot"
    assert brief.route.pivot_language == "en"
    assert [s.model for s in brief.route.steps[1:]] == ["tiny-marian-de-en", "tiny-marian-en-es"]
