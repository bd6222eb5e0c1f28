"""Fault isolation: a failure inside one request's inference fails that request (or that
item) alone, and a model that cannot load is reported unavailable while the rest serves.

Faults are injected around the real backend: the model runs unchanged for every other
input."""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from polybrief.client import Client, ServerError
from polybrief.service.models.backends import Generated, Task
from server_harness import ServerThread, sentences, subset_catalog

POISON = "Poisoned sentence that breaks the model."


@pytest.fixture(scope="module")
def server(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    root = tmp_path_factory.mktemp("faults")
    broken = root / "tiny-marian-en-es"
    shutil.copytree(tiny_dir / "tiny-marian-en-es", broken)
    (broken / "model.safetensors").write_bytes(b"these are not weights")
    catalog = subset_catalog(
        tiny_dir, root / "catalog.toml", ["tiny-marian-en-fr", "tiny-marian-en-es"]
    )
    catalog.write_text(
        catalog.read_text().replace(f"{tiny_dir}/tiny-marian-en-es", str(broken)),
        encoding="utf-8",
    )
    started = ServerThread(catalog, cache_mb=0, max_wait_ms=50)
    yield started
    started.stop()


@contextlib.contextmanager
def failing_on(server: ServerThread, error: Exception) -> Iterator[list[int]]:
    """Makes the en→fr backend raise ``error`` for any batch holding the poison sentence;
    yields a list that collects the sizes of the batches it saw."""
    backend = server.engine.registry.get("tiny-marian-en-fr").backend
    original = backend.generate
    sizes: list[int] = []

    def generate(texts: Sequence[str], task: Task) -> Generated:
        sizes.append(len(texts))
        if any(POISON in t for t in texts):
            raise error
        return original(texts, task)

    backend.generate = generate  # type: ignore[method-assign]
    try:
        yield sizes
    finally:
        del backend.generate


def _together(address: str, calls: list[list[str]]) -> list[Any]:
    """Runs the Translate calls at once (so they share batches); results or errors."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        with Client(address, timeout=60) as client:
            barrier.wait()
            try:
                results[index] = client.translate(calls[index], to="fr", source="en")
            except Exception as exc:  # recorded and asserted on below
                results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_out_of_memory_fails_only_the_item_that_caused_it(server: ServerThread) -> None:
    calls = [[sentences(6)], [sentences(2, 50), POISON], [sentences(6, 100)]]
    with failing_on(server, MemoryError()) as sizes:
        results = _together(server.address, calls)
    assert max(sizes) > 1  # the poison shared a batch with other calls' sentences
    first, mixed, third = results
    assert all(item.error is None and item.text for item in (*first, *third))
    assert mixed[0].error is None
    assert mixed[0].text
    assert mixed[1].error is not None
    assert mixed[1].error.code == "OUT_OF_MEMORY"


def test_a_crash_fails_only_the_request_that_caused_it(server: ServerThread) -> None:
    calls = [[sentences(6, 200)], [POISON], [sentences(6, 300)]]
    with failing_on(server, RuntimeError("model bug")):
        results = _together(server.address, calls)
    first, crashed, third = results
    assert isinstance(crashed, ServerError)
    assert crashed.code == grpc.StatusCode.INTERNAL
    assert "request id" in crashed.details
    assert "model bug" not in crashed.details
    assert all(item.error is None and item.text for item in (*first, *third))
    with Client(server.address, timeout=30) as client:  # and the server carries on
        assert client.translate([POISON], to="fr", source="en")[0].error is None


def _health(address: str, service: str) -> int:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        return int(reply.status)


def test_a_model_that_fails_to_load_is_reported_and_the_rest_serves(server: ServerThread) -> None:
    serving = health_pb2.HealthCheckResponse.SERVING
    assert _health(server.address, "") == serving
    assert _health(server.address, "polybrief.model.tiny-marian-en-fr") == serving
    assert (
        _health(server.address, "polybrief.model.tiny-marian-en-es")
        == health_pb2.HealthCheckResponse.NOT_SERVING
    )
    with Client(server.address, timeout=30) as client:
        models = {m.id: m for m in client.capabilities().models}
        assert models["tiny-marian-en-es"].state == "failed"
        assert models["tiny-marian-en-es"].state_detail
        assert models["tiny-marian-en-fr"].state == "loaded"
        assert client.translate(["Ships sail."], to="fr", source="en")[0].error is None
        broken = client.translate(["Ships sail."], to="es", source="en")[0]
    assert broken.error is not None
    assert broken.error.code == "MODEL_FAILED"


def test_models_loaded_at_the_same_time_all_work(tiny_dir: Path, tmp_path: Path) -> None:
    """transformers' loading is not thread-safe (meta-device state is process-global): two
    models loading at once once left one failing every call with a device error."""
    from concurrent.futures import ThreadPoolExecutor

    from polybrief.service.models.registry import ModelRegistry
    from polybrief.service.server.compose import build_registry
    from polybrief.service.settings import Settings

    ct2 = tmp_path / "ct2"

    ids = ["tiny-bart", "tiny-marian-fr-en", "tiny-t5", "tiny-marian-en-ru"]

    def load_and_run(registry: ModelRegistry, barrier: threading.Barrier, model_id: str) -> int:
        barrier.wait()
        loaded = registry.get(model_id)
        kind = "summarize" if model_id in ("tiny-bart", "tiny-t5") else "translate"
        source, target = ("fr", "en") if model_id == "tiny-marian-fr-en" else ("en", "ru")
        task = Task(kind, source, source if kind == "summarize" else target)
        return len(loaded.backend.generate(["The fleet sailed at dawn."], task).outputs)

    for _ in range(3):
        registry = build_registry(
            Settings(catalog=tiny_dir / "catalog.toml", max_loaded_models=8, ct2_cache=ct2)
        )
        barrier = threading.Barrier(len(ids))
        with ThreadPoolExecutor(len(ids)) as pool:
            outputs = list(pool.map(lambda i: load_and_run(registry, barrier, i), ids))  # noqa: B023
        assert outputs == [1] * len(ids)
