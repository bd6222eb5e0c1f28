"""Admission control and deadlines over a real server whose calls take real time (a tiny
Marian model forced to generate 120 tokens per sentence, cache off)."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from polybrief.v1 import polybrief_pb2 as pb
from polybrief.v1 import polybrief_pb2_grpc
from server_harness import ServerThread, sentences, subset_catalog

CAPACITY = 4


@pytest.fixture(scope="module")
def slow_catalog(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("slow") / "catalog.toml"
    return subset_catalog(tiny_dir, out, ["tiny-marian-en-fr"], forced_tokens=120)


@pytest.fixture(scope="module")
def small_server(slow_catalog: Path) -> Iterator[ServerThread]:
    server = ServerThread(
        slow_catalog, cache_mb=0, max_concurrent_calls=CAPACITY, default_deadline_seconds=0.5
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def wide_server(slow_catalog: Path) -> Iterator[ServerThread]:
    server = ServerThread(slow_catalog, cache_mb=0)
    yield server
    server.stop()


def _stub(address: str) -> tuple[grpc.Channel, Any]:
    channel = grpc.insecure_channel(address)
    return channel, polybrief_pb2_grpc.PolybriefStub(channel)


def _timed_call(
    stub: Any, request: pb.TranslateRequest, timeout: float | None
) -> tuple[Any, float]:
    started = time.perf_counter()
    try:
        stub.Translate(request, timeout=timeout)
        outcome: Any = grpc.StatusCode.OK
    except grpc.RpcError as error:
        outcome = error
    return outcome, time.perf_counter() - started


def _code(outcome: Any) -> grpc.StatusCode:
    return outcome if isinstance(outcome, grpc.StatusCode) else outcome.code()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_overload_at_four_times_capacity_is_shed_fast(small_server: ServerThread) -> None:
    channel, stub = _stub(small_server.address)
    stub.Translate(pb.TranslateRequest(texts=["Warm up."], target_language="fr"), timeout=60)
    calls = CAPACITY * 4
    requests = [
        pb.TranslateRequest(
            texts=[sentences(24, 1000 * i)], target_language="fr", source_language="en"
        )
        for i in range(calls)
    ]
    barrier = threading.Barrier(calls)

    def call(request: pb.TranslateRequest) -> tuple[Any, float]:
        barrier.wait()
        return _timed_call(stub, request, 120)

    with ThreadPoolExecutor(calls) as pool:
        outcomes = list(pool.map(call, requests))
    channel.close()
    codes = [_code(o) for o, _ in outcomes]
    admitted = [s for o, s in outcomes if _code(o) == grpc.StatusCode.OK]
    shed = [(o, s) for o, s in outcomes if _code(o) == grpc.StatusCode.RESOURCE_EXHAUSTED]
    print(
        f"\noverload {calls} calls at capacity {CAPACITY}: admitted {len(admitted)} "
        f"(p50 {statistics.median(admitted):.2f}s, p99 {_p(admitted, 0.99):.2f}s); "
        f"shed {len(shed)} (p50 {statistics.median([s for _, s in shed]) * 1000:.1f} ms, "
        f"max {max(s for _, s in shed) * 1000:.1f} ms)"
    )
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert len(admitted) >= CAPACITY
    assert len(shed) >= calls - 2 * CAPACITY
    # shed calls are answered before any admitted call could finish: they never queue
    assert max(s for _, s in shed) < min(admitted)
    for error, _ in shed:
        status = rpc_status.from_call(error)
        assert status is not None
        infos = [d for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
        assert len(infos) == 1
        retry = error_details_pb2.RetryInfo()
        infos[0].Unpack(retry)
        assert retry.retry_delay.ToTimedelta().total_seconds() > 0
    assert small_server.running.servicer.inflight == 0


def test_calls_without_deadline_get_the_server_default(small_server: ServerThread) -> None:
    channel, stub = _stub(small_server.address)
    texts = [sentences(150, 50_000 + 1000 * i) for i in range(4)]  # 600 sentences: seconds
    request = pb.TranslateRequest(texts=texts, target_language="fr", source_language="en")
    outcome, seconds = _timed_call(stub, request, None)  # no deadline sent
    channel.close()
    assert _code(outcome) == grpc.StatusCode.DEADLINE_EXCEEDED, outcome
    assert seconds < 5  # the default is 0.5 s here


def _settle(server: ServerThread, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.engine.runner.batcher.queued() == 0 and server.running.servicer.inflight == 0:
            return
        time.sleep(0.05)


def test_short_deadlines_leave_no_work_threads_or_memory_behind(wide_server: ServerThread) -> None:
    channel, stub = _stub(wide_server.address)
    stub.Translate(pb.TranslateRequest(texts=["Warm up."], target_language="fr"), timeout=60)
    stats = wide_server.engine.runner.batcher.stats
    process = psutil.Process()
    rounds, per_round = 5, 32
    threads: list[int] = []
    rss: list[float] = []
    computed_before, submitted_before = stats.computed, stats.submitted
    for round_index in range(rounds):
        requests = [
            pb.TranslateRequest(
                texts=[sentences(64, 100_000 * round_index + 1000 * i)],
                target_language="fr",
                source_language="en",
            )
            for i in range(per_round)
        ]
        with ThreadPoolExecutor(per_round) as pool:
            outcomes = list(pool.map(lambda r: _timed_call(stub, r, 0.3), requests))
        assert {_code(o) for o, _ in outcomes} == {grpc.StatusCode.DEADLINE_EXCEEDED}
        assert max(s for _, s in outcomes) < 5  # nobody hangs past the deadline
        _settle(wide_server)
        threads.append(sum(not t.name.startswith("request") for t in threading.enumerate()))
        request_threads = sum(t.name.startswith("request") for t in threading.enumerate())
        assert request_threads <= wide_server.settings.max_concurrent_calls
        rss.append(process.memory_info().rss / 2**20)
    channel.close()
    submitted = stats.submitted - submitted_before
    computed = stats.computed - computed_before
    print(
        f"\n{rounds}x{per_round} calls with a 0.3 s deadline: {submitted} segments submitted, "
        f"{computed} computed; non-request threads per round {threads}; RSS MB per round "
        f"{[round(r) for r in rss]}"
    )
    assert wide_server.engine.runner.batcher.queued() == 0
    assert wide_server.running.servicer.inflight == 0
    assert computed < submitted / 4  # expired work was dropped, not computed
    # request threads are pooled (at most max_concurrent_calls); no other thread is left
    assert max(threads[1:]) <= threads[0]
    assert rss[-1] - rss[1] < 64  # MB; no growth beyond noise across rounds
