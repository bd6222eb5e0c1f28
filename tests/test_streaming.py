"""Briefs as they are ready: StreamSummarize / StreamTranslate over a real server, legs
side by side, cancellation that frees queued work at once, deadlines mid-stream, and the
direct cross-lingual route with its language check.

Ordering tests hold one leg (or the inference thread) at a gate and assert what arrived
while it was closed; the gate's hang guard is sized from a call measured on this
machine and only ends a test that would otherwise hang (it then fails).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from polybrief.client import (
    AsyncClient,
    Client,
    DeadlineExceededError,
    Ready,
    SummarizeDone,
    TranslateDone,
)
from polybrief.service.models.backends import Generated
from server_harness import ServerThread, running, wait_for

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "afp-putin-hollande.txt"
TEXT = (
    "President Vladimir Putin on Tuesday ordered the Russian navy to work with the French "
    "as allies. The order came after the attacks in Paris. Officials in Moscow said the "
    "ships would coordinate their operations in the eastern Mediterranean."
)
ENGLISH = (
    "The president said on Tuesday that the navy would work with its allies in the "
    "Mediterranean, and officials confirmed that the ships had already left the port."
)


class Gate:
    """Holds every call that reaches it until ``open()``; ``guard`` seconds later it
    opens by itself (``forced``), so that a broken ordering fails instead of hanging."""

    def __init__(self, guard: float) -> None:
        self.guard = guard
        self.reached = threading.Event()
        self._open = threading.Event()
        self.forced = False

    def wait(self) -> None:
        self.reached.set()
        if not self._open.wait(self.guard):
            self.forced = True

    def open(self) -> None:
        self._open.set()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()


@pytest.fixture(scope="module")
def server(tiny_dir: Path) -> Iterator[ServerThread]:
    """A server without the translation cache: every leg runs its model."""
    with running(tiny_dir / "catalog.toml", cache_mb=0) as started:
        yield started


@pytest.fixture(scope="module")
def call_s(server: ServerThread) -> float:
    """One three-language brief of TEXT, measured here (sizes the hang guards)."""
    with Client(server.address, timeout=600) as client:
        client.summarize(TEXT, to=["en", "fr", "ru"], source="en")  # warm
        started = time.perf_counter()
        client.summarize(TEXT, to=["en", "fr", "ru"], source="en")
        return time.perf_counter() - started


def _hold(server: ServerThread, gate: Gate, when: Callable[[str], bool]) -> Callable[[], None]:
    """Holds the leg threads that translate into a language ``when`` accepts at ``gate``
    before they submit anything; returns what undoes it."""
    runner = server.engine.runner
    original = runner.translate

    def translate(loaded: Any, segments: Any, source: str, target: str, context: Any) -> Any:
        if when(target):
            gate.wait()
        return original(loaded, segments, source, target, context)

    runner.translate = translate  # type: ignore[method-assign]
    return lambda: delattr(runner, "translate")


def _hold_inference(server: ServerThread, gate: Gate, models: list[str]) -> Callable[[], None]:
    """Holds the inference thread at ``gate`` when it starts a batch of ``models``."""
    undo = []
    for model in models:
        backend = server.engine.registry.get(model).backend
        original = backend.generate

        def generate(texts: Any, task: Any, original: Any = original) -> Generated:
            gate.wait()
            return original(texts, task)

        backend.generate = generate  # type: ignore[method-assign]
        undo.append(lambda backend=backend: delattr(backend, "generate"))
    return lambda: [u() for u in undo]


def _drain(events: Iterator[Any], into: list[Any]) -> None:
    """Appends each event to ``into`` until the stream ends (or raises)."""
    for event in events:
        into.append(event)


# --------------------------------------------------------------------- equivalence


def test_streamed_briefs_equal_the_unary_ones(client: Client) -> None:
    """Greedy tiny models: each streamed brief is the unary call's brief at its index,
    the last event carries the same report; every index comes once."""
    article = SEED.read_text(encoding="utf-8")
    unary = client.summarize(article, to=["en", "fr", "ru"])
    events = list(client.stream_summarize(article, to=["en", "fr", "ru"]))
    *briefs, done = events
    assert isinstance(done, SummarizeDone)
    assert all(isinstance(e, Ready) for e in briefs)
    assert sorted(e.index for e in briefs if isinstance(e, Ready)) == [0, 1, 2]
    for event in briefs:
        assert isinstance(event, Ready)
        assert event.output == unary.briefs[event.index]
    assert (done.source_language, done.detected_language, done.pipeline) == (
        unary.source_language,
        unary.detected_language,
        unary.pipeline,
    )


def test_streamed_translations_equal_the_unary_ones(client: Client) -> None:
    texts = ["The navy sails at dawn.", "12 345", "Le président parle.", "Ships."]
    unary = client.translate(texts, to="fr")
    *items, done = client.stream_translate(texts, to="fr")
    assert done == TranslateDone("fr")
    assert sorted(e.index for e in items if isinstance(e, Ready)) == [0, 1, 2, 3]
    for event in items:
        assert isinstance(event, Ready)
        assert event.output == unary[event.index]


def test_the_async_client_streams_the_same_events(server_address: str, client: Client) -> None:
    import asyncio

    async def collect() -> list[Any]:
        async with AsyncClient(server_address, timeout=120) as aclient:
            return [e async for e in aclient.stream_translate(["Ships sail.", "1 2 3"], to="ru")]

    events = asyncio.run(collect())
    unary = client.translate(["Ships sail.", "1 2 3"], to="ru")
    assert events[-1] == TranslateDone("ru")
    assert {e.index: e.output for e in events[:-1]} == dict(enumerate(unary))


# ------------------------------------------------------------------------ ordering


def _held_leg(
    server: ServerThread, call_s: float, held: str, to: list[str], first: int
) -> tuple[list[Any], bool, list[Any]]:
    """Streams a brief of TEXT into ``to`` while the ``held`` leg waits at a gate before
    it submits anything: the ``first`` events, whether the gate was still closed once
    they had come, and the rest of the stream (after the gate was opened)."""
    gate = Gate(guard=20 * call_s + 10)
    undo = _hold(server, gate, lambda target: target == held)
    try:
        with Client(server.address, timeout=600) as client:
            events = client.stream_summarize(TEXT, to=to, source="en")
            early = [next(events) for _ in range(first)]
            closed = not gate.is_open
            gate.open()
            rest = list(events)
    finally:
        gate.open()
        undo()
    return early, closed and not gate.forced, rest


def test_the_first_brief_arrives_before_the_last_is_computed(
    server: ServerThread, call_s: float
) -> None:
    """The ru leg is held before it submits anything: the en and fr briefs still arrive,
    so the stream sends each brief when it is ready, not when all are."""
    early, held, rest = _held_leg(server, call_s, "ru", ["en", "fr", "ru"], first=2)
    assert held, "the first briefs only came once the held leg was let go"
    assert all(isinstance(e, Ready) for e in early)
    assert {e.index for e in early} == {0, 1}
    last, done = rest
    assert isinstance(last, Ready)
    assert last.index == 2
    assert last.output.language == "ru"
    assert last.output.text
    assert isinstance(done, SummarizeDone)


def test_legs_run_side_by_side(server: ServerThread, call_s: float) -> None:
    """With the fr leg held, the ru leg still reaches the batcher and completes: the
    legs of one call do not wait for each other."""
    [first], held, rest = _held_leg(server, call_s, "fr", ["fr", "ru"], first=1)
    assert held
    assert isinstance(first, Ready)
    assert first.output.language == "ru"
    assert [e.output.language for e in rest if isinstance(e, Ready)] == ["fr"]


# -------------------------------------------------------------------- cancellation


def test_cancelling_a_stream_drops_its_queued_work_at_once(
    server: ServerThread, call_s: float
) -> None:
    """The inference thread is held on the first translation batch, so the other leg's
    segments wait in the queue. Leaving the stream after its first brief drops them
    while the inference thread is still held (not when a batch is next taken), and the
    counters say so."""
    batcher = server.engine.runner.batcher
    metrics = server.running.metrics.registry
    gate = Gate(guard=20 * call_s + 10)
    undo = _hold_inference(server, gate, ["tiny-marian-en-fr", "tiny-marian-en-ru"])
    try:
        with Client(server.address, timeout=600) as client:
            events = client.stream_summarize(TEXT, to=["en", "fr", "ru"], source="en")
            first = next(events)
            assert wait_for(lambda: gate.reached.is_set() and batcher.queued() > 0, 10 * call_s)
            queued = batcher.queued()
            dropped = batcher.stats.dropped
            counted = metrics.get_sample_value(
                "polybrief_dropped_segments_total", {"reason": "cancelled"}
            )
            events.close()  # the client leaves: the call is cancelled
            assert wait_for(lambda: batcher.queued() == 0, 10 * call_s)
            still_held = not gate.is_open
    finally:
        gate.open()
        undo()
    assert isinstance(first, Ready)
    assert first.index == 0  # the English brief needs no translation
    assert still_held
    assert batcher.stats.dropped - dropped == queued
    after = metrics.get_sample_value("polybrief_dropped_segments_total", {"reason": "cancelled"})
    assert after - (counted or 0) == queued
    assert wait_for(lambda: server.running.servicer.inflight == 0, 10 * call_s)


def test_a_deadline_ends_the_stream_after_the_briefs_already_sent(
    server: ServerThread, call_s: float
) -> None:
    """The translation batches are held past the call's deadline (a few times what the
    whole call takes here): the English brief arrives, then DEADLINE_EXCEEDED."""
    gate = Gate(guard=20 * call_s + 10)
    undo = _hold_inference(server, gate, ["tiny-marian-en-fr"])
    received: list[Any] = []
    try:
        with Client(server.address, timeout=600) as client:
            events = client.stream_summarize(
                TEXT, to=["en", "fr"], source="en", timeout=4 * call_s + 1
            )
            with pytest.raises(DeadlineExceededError):
                _drain(events, received)
    finally:
        gate.open()
        undo()
    assert not gate.forced
    assert [e.output.language for e in received if isinstance(e, Ready)] == ["en"]


# ------------------------------------------------------------------ cross-lingual


def test_cross_lingual_briefs_start_with_the_target_language_token(
    tiny_server: ServerThread, client: Client
) -> None:
    """Named, the tiny CrossSum model writes the fr and ru briefs itself (route
    cross_lingual, one summarize step source → target), each generate starting with the
    token its config's langid_map names for the target."""
    from polybrief.service.models.families import CROSSSUM_NAMES, crosssum_langid_map

    loaded = tiny_server.engine.registry.get("tiny-crosssum")
    tokens = crosssum_langid_map(loaded.model.config)
    starts: list[int] = []
    original = loaded.model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        starts.append(int(kwargs["decoder_start_token_id"]))
        return original(*args, **kwargs)

    loaded.model.generate = generate
    try:
        result = client.summarize(TEXT, to=["fr", "ru"], source="en", model="tiny-crosssum")
    finally:
        del loaded.model.generate
    token = {
        lang: loaded.tokenizer.convert_tokens_to_ids(tokens[CROSSSUM_NAMES[lang]])
        for lang in ("en", "fr", "ru")
    }
    assert len(set(token.values())) == 3
    # every direct brief started with its target's token; a random model's output may
    # read as another language, and such a brief is then redone from a summary in the
    # source language (its own token), saying so
    assert {token["fr"], token["ru"]} <= set(starts) <= set(token.values())
    for brief in result.briefs:
        assert brief.error is None
        if brief.route.kind == "cross_lingual":
            [step] = brief.route.steps
            assert (step.kind, step.model) == ("summarize", "tiny-crosssum")
            assert (step.source_language, step.target_language) == ("en", brief.language)
            assert not any(w.code == "REROUTED" for w in brief.warnings)
        else:
            assert [w.code for w in brief.warnings].count("REROUTED") == 1
            assert brief.route.steps[0].target_language == "en"
    if token["en"] not in starts:
        assert {b.route.kind for b in result.briefs} == {"cross_lingual"}


def test_a_wrong_language_cross_lingual_brief_is_redone_by_summarise_then_translate(
    tiny_server: ServerThread, client: Client
) -> None:
    """The CrossSum leg is made to answer in English (a forced wrong-language output):
    the ru brief is redone by summarising in English and translating, and says so."""
    loaded = tiny_server.engine.registry.get("tiny-crosssum")
    backend = loaded.backend
    original = backend.generate

    def english(texts: Any, task: Any) -> Generated:
        if task.target == task.source:
            return original(texts, task)
        return Generated([ENGLISH] * len(texts), 0, 0, [-0.5] * len(texts))

    backend.generate = english  # type: ignore[method-assign]
    try:
        result = client.summarize(TEXT, to=["ru"], source="en", model="tiny-crosssum")
    finally:
        del backend.generate
    [brief] = result.briefs
    assert brief.route.kind != "cross_lingual"
    kinds = [step.kind for step in brief.route.steps]
    assert kinds[0] == "summarize"
    assert "translate" in kinds
    assert brief.route.steps[0].target_language == "en"
    rerouted = [w for w in brief.warnings if w.code == "REROUTED"]
    assert len(rerouted) == 1
    assert rerouted[0].detected_language == "en"
    assert "tiny-crosssum" in rerouted[0].message
    assert brief.text != ENGLISH


def test_the_catalogue_order_decides_the_route(tiny_server: ServerThread) -> None:
    """Unnamed, the first usable summariser for the source in catalogue order decides:
    tiny-bart (same-language) gives summarise-then-translate; with tiny-crosssum moved
    first, the fr brief is written directly, while the en brief (the source's language)
    is still the shared summary."""
    import dataclasses

    from polybrief.service import domain as d

    engine = tiny_server.engine
    request = d.SummarizeRequest(TEXT, ("en", "fr"), "en")
    [_, by_default] = engine.summarize(request).briefs
    assert [s.kind for s in by_default.route.steps] == [d.StepKind.SUMMARIZE, d.StepKind.TRANSLATE]
    assert by_default.route.steps[0].model == "tiny-bart"
    assert not any(w.code is d.WarningCode.REROUTED for w in by_default.warnings)
    catalog = engine.catalog
    crosssum = catalog.get("tiny-crosssum")
    assert crosssum is not None
    others = tuple(m for m in catalog.models if m is not crosssum)
    engine.catalog = dataclasses.replace(catalog, models=(crosssum, *others))
    try:
        source, direct = engine.summarize(request).briefs
    finally:
        engine.catalog = catalog
    # tried directly (a random model's output may then read as another language and be
    # redone, saying so)
    rerouted = [w for w in direct.warnings if w.code is d.WarningCode.REROUTED]
    if direct.route.kind is d.RouteKind.CROSS_LINGUAL:
        assert [s.model for s in direct.route.steps] == ["tiny-crosssum"]
        assert rerouted == []
    else:
        [warning] = rerouted
        assert "tiny-crosssum" in warning.message
    assert source.route.kind is d.RouteKind.IDENTITY
    assert source.route.steps[0].model == "tiny-crosssum"


def test_capabilities_name_the_cross_lingual_summariser(client: Client) -> None:
    models = {m.id: m for m in client.capabilities().models}
    crosssum = models["tiny-crosssum"]
    assert crosssum.family == "crosssum"
    assert set(crosssum.summary_targets) == {"en", "fr", "ru", "es"}
    assert models["tiny-bart"].summary_targets == ()
