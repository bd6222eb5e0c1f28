"""The client library's API against a real polybrief server (tiny models) and against none:
result types, sync/async parity, batching of single strings, health, errors, deadlines."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import time
import typing
from typing import Any

import pytest
from polybrief import client as pc

ARTICLE = (
    "President Vladimir Putin on Tuesday ordered the Russian navy to work with the French "
    "as allies. The Kremlin said the two leaders agreed to ramp up cooperation.\n\n"
    "France intensified strikes on Raqa following last week's attacks in Paris."
)
FRENCH = "Le président français a annoncé le déploiement du porte-avions Charles de Gaulle."
UNREACHABLE = "127.0.0.1:9"  # discard port: nothing listens there


def _literal(alias: Any) -> set[str]:
    return set(typing.get_args(alias))


def _calls(client: pc.Client) -> dict[str, Any]:
    """The same requests, made with the sync client."""
    return {
        "summarize": client.summarize(ARTICLE, to=["en", "fr"], max_words=20),
        "translate": client.translate([ARTICLE, FRENCH], to="en"),
        "detect": client.detect([ARTICLE, FRENCH]),
        "capabilities": client.capabilities(),
        "health": client.health(),
    }


async def _acalls(client: pc.AsyncClient) -> dict[str, Any]:
    """The same requests, made with the async client."""
    return {
        "summarize": await client.summarize(ARTICLE, to=["en", "fr"], max_words=20),
        "translate": await client.translate([ARTICLE, FRENCH], to="en"),
        "detect": await client.detect([ARTICLE, FRENCH]),
        "capabilities": await client.capabilities(),
        "health": await client.health(),
    }


@pytest.fixture(scope="module")
def results(server_address: str) -> dict[str, Any]:
    with pc.Client(server_address, timeout=120) as client:
        return _calls(client)


def test_summarize_result(results: dict[str, Any]) -> None:
    result: pc.SummarizeResult = results["summarize"]
    assert isinstance(result, pc.SummarizeResult)
    assert [b.language for b in result.briefs] == ["en", "fr"]
    assert result.source_language == "en"
    assert result.detected_language is not None
    assert result.detected_language.language == "en"
    assert result.pipeline.paragraphs == 2
    assert result.pipeline.input_characters == len(ARTICLE)
    for brief in result.briefs:
        assert brief.error is None, brief.error
        assert brief.text
        assert brief.mode in _literal(pc.SummaryMode)
        assert brief.route.kind in _literal(pc.RouteKind)
        assert {s.kind for s in brief.route.steps} <= _literal(pc.StepKind) - {""}
    fr = result.briefs[1]
    assert fr.route.steps[-1].kind == "translate"
    assert (fr.route.steps[-1].source_language, fr.route.steps[-1].target_language) == (
        "en",
        "fr",
    )


def test_translate_and_detect_results(results: dict[str, Any]) -> None:
    translations: list[pc.Translation] = results["translate"]
    assert [t.source_language for t in translations] == ["en", "fr"]
    assert translations[0].route.kind == "identity"
    assert translations[0].text == ARTICLE  # source equals target: unchanged
    assert all(t.detected_language is not None for t in translations)
    detections: list[pc.DetectedLanguage] = results["detect"]
    assert [d.language for d in detections] == ["en", "fr"]
    best = detections[1].candidates[0]
    assert isinstance(best, pc.LanguageGuess)
    language, confidence = best  # a named tuple: unpacks as (language, confidence)
    assert language == best.language == "fr"
    assert 0 < confidence == best.confidence <= 1


def test_capabilities(results: dict[str, Any]) -> None:
    caps: pc.Capabilities = results["capabilities"]
    assert caps.pivot_language == "en"
    assert caps.models
    assert {m.state for m in caps.models} <= _literal(pc.ModelState) - {"unknown"}
    by_id = {m.id: m for m in caps.models}
    assert pc.LanguagePair("en", "fr") in by_id["tiny-marian-en-fr"].pairs
    assert "summarize" in by_id["tiny-bart"].tasks
    assert "en" in {lang.code for lang in caps.languages}
    limits = caps.limits
    assert limits.min_words <= limits.default_words <= limits.max_words
    assert limits.max_receive_message_bytes > 0
    assert results["health"] == "SERVING"


def test_results_are_frozen(results: dict[str, Any]) -> None:
    brief = results["summarize"].briefs[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        brief.text = "changed"


def test_async_client_gives_the_same_results(server_address: str, results: dict[str, Any]) -> None:
    async def run() -> dict[str, Any]:
        async with pc.AsyncClient(server_address, timeout=120) as client:
            return await _acalls(client)

    async_results = asyncio.run(run())
    assert async_results.keys() == results.keys()
    for name, value in results.items():
        if name == "capabilities":  # model states may have changed (models load on use)
            assert async_results[name].limits == value.limits
            assert [m.id for m in async_results[name].models] == [m.id for m in value.models]
        else:
            assert async_results[name] == value, name


def test_both_clients_document_one_api() -> None:
    """The public methods show their arguments and result (not the internal Call) and the
    same docs on both clients."""
    for name in ("summarize", "translate", "detect", "capabilities", "health"):
        sync, aio = getattr(pc.Client, name), getattr(pc.AsyncClient, name)
        signature = inspect.signature(sync)
        assert next(iter(signature.parameters)) == "self"
        assert "Call" not in str(signature.return_annotation)
        assert signature == inspect.signature(aio)
        assert sync.__doc__
        assert sync.__doc__ == aio.__doc__
        assert sync.__name__ == name


def test_a_single_string_is_a_batch_of_one(server_address: str) -> None:
    with pc.Client(server_address, timeout=120) as client:
        translated = client.translate(FRENCH, to="en", source="fr")
        detected = client.detect(FRENCH)
    assert len(translated) == 1
    assert translated[0].detected_language is None  # the source was given
    assert translated[0].route.steps[0].model == "tiny-marian-fr-en"
    assert len(detected) == 1
    assert detected[0].language == "fr"


def test_given_source_is_not_detected(server_address: str) -> None:
    with pc.Client(server_address, timeout=120) as client:
        result = client.summarize(ARTICLE, source="EN", mode="extractive", max_words=15)
    assert result.detected_language is None
    assert result.source_language == "en"
    (brief,) = result.briefs
    assert (brief.language, brief.mode) == ("en", "extractive")
    assert [s.kind for s in brief.route.steps] == ["extract"]


def test_server_errors_carry_their_details(server_address: str) -> None:
    with pc.Client(server_address, timeout=60) as client:
        with pytest.raises(pc.InvalidArgumentError) as bad:
            client.translate(["fine", "  "], to="zz")
        with pytest.raises(pc.ModelNotFoundError):
            client.translate("Hello", to="fr", model="no-such-model")
    fields = {field for field, _ in bad.value.field_violations}
    assert {"texts[1]", "target_language"} <= fields


def test_item_errors_do_not_fail_the_call(server_address: str) -> None:
    with pc.Client(server_address, timeout=120) as client:
        result = client.summarize(ARTICLE, to=["fr", "ko"], source="en")
    fr, ko = result.briefs
    assert fr.error is None
    assert ko.error is not None
    assert ko.error.code == "UNSUPPORTED_LANGUAGE_PAIR"
    assert ko.text == ""


def test_per_call_timeout(server_address: str) -> None:
    with pc.Client(server_address, timeout=120) as client:
        with pytest.raises(pc.DeadlineExceededError):
            client.summarize(ARTICLE * 50, to=["fr", "ru"], timeout=0.001)
        assert client.health(timeout=10) == "SERVING"  # the client is still usable


def test_health_of_services(server_address: str) -> None:
    with pc.Client(server_address) as client:
        assert client.health("polybrief.v1.Polybrief") == "SERVING"
        assert client.health("no.such.Service") == "SERVICE_UNKNOWN"
        client.wait_until_serving(10)


def test_unreachable_server() -> None:
    with pc.Client(UNREACHABLE, timeout=60) as client:
        with pytest.raises(pc.UnavailableError):  # not DEADLINE_EXCEEDED: retries gave up
            client.detect("hello")
        started = time.monotonic()
        with pytest.raises(pc.UnavailableError, match=r"not serving after 0\.5s"):
            client.wait_until_serving(0.5)
        waited = time.monotonic() - started
    assert 0.5 <= waited < client.timeout  # the wait's own timeout ends it

    async def run() -> None:
        async with pc.AsyncClient(UNREACHABLE, timeout=5) as aclient:
            with pytest.raises(pc.UnavailableError, match="not serving after"):
                await aclient.wait_until_serving(0.5)

    asyncio.run(run())


def test_several_targets_reach_the_live_server(server_address: str) -> None:
    """The first target is dead: calls, health and waits go to the second."""
    targets = [UNREACHABLE, server_address]
    with pc.Client(targets, timeout=60) as client:
        client.wait_until_serving(10)
        assert client.health() == "SERVING"
        (translated,) = client.translate(FRENCH, to="en", source="fr")
    assert translated.error is None
    assert translated.text

    async def run() -> list[pc.DetectedLanguage]:
        async with pc.AsyncClient(targets, timeout=60) as aclient:
            await aclient.wait_until_serving(10)
            return await aclient.detect(FRENCH)

    assert [d.language for d in asyncio.run(run())] == ["fr"]
