"""Prometheus metrics on their own port, request ids in response metadata, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from polybrief.service.observability.logs import configure_logging
from polybrief.v1 import polybrief_pb2 as pb
from polybrief.v1 import polybrief_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from server_harness import ServerThread, subset_catalog


@pytest.fixture(scope="module")
def server(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    catalog = subset_catalog(
        tiny_dir,
        tmp_path_factory.mktemp("obs") / "catalog.toml",
        ["tiny-marian-en-fr", "tiny-bart"],
    )
    started = ServerThread(catalog, metrics_port=0)
    yield started
    started.stop()


def _samples(port: int | None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _settled(
    port: int | None,
    before: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    name: str,
    calls: int,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples once ``calls`` more calls have been recorded (a bounded wait)."""
    for _ in range(200):
        after = _samples(port)
        recorded = _value(after, name, rpc="Translate") - _value(before, name, rpc="Translate")
        # a call counts as in flight until its response is sent, a moment after the client
        # has it
        if recorded >= calls and _value(after, "polybrief_inflight_calls") == 0:
            return after
        time.sleep(0.05)
    return after


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_calls_batches_tokens_cache_and_loads(server: ServerThread) -> None:
    before = _samples(server.running.metrics_port)
    with grpc.insecure_channel(server.address) as channel:
        stub = polybrief_pb2_grpc.PolybriefStub(channel)
        request = pb.TranslateRequest(
            texts=["The fleet sailed at dawn. The allies met at sea."],
            target_language="fr",
            source_language="en",
        )
        for _ in range(2):  # the second time comes from the cache
            stub.Translate(request, timeout=30)
        with pytest.raises(grpc.RpcError):
            stub.Translate(pb.TranslateRequest(texts=[""], target_language="fr"), timeout=30)
    # An aborted call's status reaches the client before the server has recorded it.
    after = _settled(server.running.metrics_port, before, "polybrief_request_seconds_count", 3)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("polybrief_requests_total", rpc="Translate", code="OK") == 2
    assert grew("polybrief_requests_total", rpc="Translate", code="INVALID_ARGUMENT") == 1
    assert grew("polybrief_request_seconds_count", rpc="Translate") == 3
    assert grew("polybrief_input_characters_total", rpc="Translate") == 2 * len(request.texts[0])
    batch = {"model": "tiny-marian-en-fr", "task": "translate"}
    assert grew("polybrief_batch_size_count", **batch) >= 1
    assert grew("polybrief_batch_size_sum", **batch) == 2  # two sentences, computed once
    assert grew("polybrief_tokens_total", model="tiny-marian-en-fr", direction="in") > 0
    assert grew("polybrief_tokens_total", model="tiny-marian-en-fr", direction="out") > 0
    assert grew("polybrief_cache_hits_total") == 2
    assert _value(after, "polybrief_queued_segments") == 0
    assert _value(after, "polybrief_inflight_calls") == 0
    assert _value(after, "polybrief_model_load_seconds_count", model="tiny-bart", outcome="ok") == 1


def test_request_id_is_returned_in_trailers_and_a_callers_own_is_kept(server: ServerThread) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = polybrief_pb2_grpc.PolybriefStub(channel)
        request = pb.DetectLanguageRequest(texts=["The fleet sailed at dawn."])
        _, call = stub.DetectLanguage.with_call(request, timeout=30)
        generated = dict(call.trailing_metadata())["x-request-id"]
        assert len(generated) == 32
        _, call = stub.DetectLanguage.with_call(
            request, metadata=(("x-request-id", "desk-42"),), timeout=30
        )
        assert dict(call.trailing_metadata())["x-request-id"] == "desk-42"
        _, call = stub.DetectLanguage.with_call(
            request, metadata=(("x-request-id", "bad id with spaces"),), timeout=30
        )
        assert dict(call.trailing_metadata())["x-request-id"] != "bad id with spaces"
        with pytest.raises(grpc.RpcError) as failed:
            stub.DetectLanguage(
                pb.DetectLanguageRequest(texts=[""]),
                metadata=(("x-request-id", "desk-43"),),
                timeout=30,
            )
        assert dict(failed.value.trailing_metadata())["x-request-id"] == "desk-43"  # type: ignore[attr-defined]


def test_logs_are_json_lines_with_the_request_id(server: ServerThread) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        configure_logging("INFO", "json")
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        with grpc.insecure_channel(server.address) as channel:
            stub = polybrief_pb2_grpc.PolybriefStub(channel)
            stub.DetectLanguage(
                pb.DetectLanguageRequest(texts=["The fleet sailed at dawn."]),
                metadata=(("x-request-id", "desk-44"),),
                timeout=30,
            )
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line.get("logger") == "polybrief.access"]
    assert access, lines
    entry = access[-1]
    assert entry["request_id"] == "desk-44"
    assert entry["rpc"] == "DetectLanguage"
    assert entry["code"] == "OK"
    assert entry["level"] == "INFO"
    assert entry["ms"] >= 0
    assert entry["characters"] == 25
