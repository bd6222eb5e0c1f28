"""How far to trust an output, end to end on the tiny catalogue: the guards against loops
and wrong lengths, confidence, glossary terms kept verbatim on random models, names kept
in briefs; and, with the guards off, outputs exactly the model's."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from polybrief.client import Client, GlossaryTerm
from polybrief.service.quality.checks import find_loop
from polybrief.service.text.segment import split_sentences
from prometheus_client.parser import text_string_to_metric_families
from server_harness import ServerThread, running

ROOT = Path(__file__).resolve().parents[1]
SEED = (ROOT / "examples" / "afp-putin-hollande.txt").read_text(encoding="utf-8")
SENTENCES = list(
    dict.fromkeys(s for s in split_sentences(SEED, "en") if 6 <= len(s.split()) <= 30)
)[:16]
NAMES = ["Vladimir Putin", "Francois Hollande", "Charles de Gaulle", "Raqa", "Rami Abdel Rahman"]
GLOSSARY = [
    GlossaryTerm("Charles de Gaulle", ""),  # do not translate
    GlossaryTerm("Kremlin", "Kremlin"),
    GlossaryTerm("Islamic State", "Etat islamique"),  # source -> target
    GlossaryTerm("Vladimir Putin", ""),
    GlossaryTerm("Raqa", ""),
]


@pytest.fixture(scope="module")
def guarded(tiny_dir: Path) -> Iterator[ServerThread]:
    """The tiny catalogue with the guards on, as a server runs by default."""
    with running(tiny_dir / "catalog.toml", quality_guards=True, metrics_port=0) as server:
        yield server


@pytest.fixture(scope="module")
def client(guarded: ServerThread) -> Iterator[Client]:
    """A client of the guarded server (the session's ``client`` has them off)."""
    with Client(guarded.address, timeout=300) as c:
        yield c


@pytest.fixture(scope="module")
def raw(tiny_server: ServerThread) -> Iterator[Client]:
    """A client of the session's server: the guards off, outputs exactly the model's."""
    with Client(tiny_server.address, timeout=300) as c:
        yield c


def test_loops_are_redecoded_or_flagged(client: Client, raw: Client) -> None:
    before = raw.translate(SENTENCES, to="fr", source="en")
    after = client.translate(SENTENCES, to="fr", source="en")
    looping_before = [r for r in before if find_loop(r.text)]
    assert looping_before, "the tiny en-fr model should loop on some of the seed sentences"
    for result in after:
        assert 0.0 <= result.confidence <= 1.0
        codes = {w.code for w in result.warnings}
        # an output still looping says so; one that does not loop carries no REPETITION
        assert bool(find_loop(result.text)) <= ("REPETITION" in codes)
    still = [r for r in after if find_loop(r.text)]
    assert len(still) <= len(looping_before)
    for result in before:
        assert not result.warnings


def test_confidence_is_lower_for_loops_than_for_identity(client: Client, raw: Client) -> None:
    [same] = client.translate(SENTENCES[0], to="en", source="en")
    assert same.confidence == 1.0
    looping = [r for r in raw.translate(SENTENCES, to="fr", source="en") if find_loop(r.text)]
    assert looping
    assert all(0.0 <= r.confidence < 1.0 for r in looping)


def test_guards_off_equals_direct_generate_and_unflagged_outputs_are_unchanged(
    client: Client, raw: Client, tiny_server: ServerThread
) -> None:
    loaded: Any = tiny_server.engine.registry.get("tiny-marian-en-fr")
    tokenizer, spec = loaded.tokenizer, loaded.spec
    # one sentence per segment: each goes to the model alone, as the service splits them
    expected = []
    for sentence in SENTENCES[:4]:
        prepared = loaded.adapter.prepare_translation(tokenizer, spec, [sentence], "en", "fr")
        with torch.inference_mode():
            out = loaded.model.generate(
                **prepared.tensors(), **spec.generation, **prepared.generate_kwargs
            )
        expected.append(tokenizer.batch_decode(out, skip_special_tokens=True)[0].strip())
    off = raw.translate(SENTENCES[:4], to="fr", source="en", model="tiny-marian-en-fr")
    assert [r.text for r in off] == expected
    on = client.translate(SENTENCES[:4], to="fr", source="en", model="tiny-marian-en-fr")
    for guarded, plain in zip(on, off, strict=True):
        segment_warnings = [w for w in guarded.warnings if w.segment >= 0]
        if not segment_warnings and not find_loop(plain.text):
            assert guarded.text == plain.text


def test_glossary_holds_in_every_output_of_a_64_item_batch(client: Client) -> None:
    items = [SENTENCES[i % len(SENTENCES)] + f" Item {i}." for i in range(64)]
    items[0] = "Charles de Gaulle sailed with the Islamic State far behind, said the Kremlin."
    results = client.translate(items, to="fr", source="en", glossary=GLOSSARY)
    assert len(results) == 64
    checked = 0
    for text, result in zip(items, results, strict=True):
        assert result.error is None
        for term in GLOSSARY:
            if term.source in text:
                expected = term.target or term.source
                assert result.text.count(expected) >= text.count(term.source), (term, result)
                assert term.source in result.applied_terms
                checked += 1
    assert checked >= 64


def test_glossary_and_names_hold_in_every_brief_of_the_seed_article(client: Client) -> None:
    result = client.summarize(
        SEED, to=["en", "fr", "ru"], source="en", mode="extractive", glossary=GLOSSARY
    )
    english = result.briefs[0]
    assert english.language == "en"
    present = [n for n in NAMES if n in english.text]
    assert present, english.text
    for brief in result.briefs[1:]:
        assert brief.error is None, brief.error
        for name in present:
            assert name in brief.text, (name, brief.language, brief.text)
        for term in GLOSSARY:
            if term.source in english.text:
                assert (term.target or term.source) in brief.text
        assert 0.0 <= brief.confidence <= 1.0


def test_warnings_are_counted_by_code_and_model(guarded: ServerThread, client: Client) -> None:
    results = client.translate([f"{s} Again {i}." for i, s in enumerate(SENTENCES)], to="fr")
    warned = [(w.code, r) for r in results for w in r.warnings]
    assert warned, "tiny models give some warnings"
    stats = guarded.engine.runner.stats
    assert stats.segments > 0
    assert stats.redecodes >= stats.flagged
    with urllib.request.urlopen(
        f"http://127.0.0.1:{guarded.running.metrics_port}/metrics", timeout=10
    ) as reply:
        text = reply.read().decode()
    counted = {
        (s.labels["model"], s.labels["code"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "polybrief_warnings_total"
    }
    for code, _ in warned:
        assert any(c == code and value >= 1 for (_, c), value in counted.items()), code
