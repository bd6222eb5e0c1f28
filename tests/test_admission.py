"""Admission control and deadlines over a real server whose calls take real time (a tiny
Marian model forced to generate 120 tokens per sentence, cache off).

How long that takes depends on the machine: the module first times one full batch
(``batch_s``) and derives the deadlines and sizes from it, so that every call meant to
outlive its deadline carries several times the deadline's worth of work on any machine.
"""

from __future__ import annotations

import math
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
from server_harness import ServerThread, sentences, subset_catalog, wait_for

CAPACITY = 4


@pytest.fixture(scope="module")
def slow_catalog(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("slow") / "catalog.toml"
    return subset_catalog(tiny_dir, out, ["tiny-marian-en-fr"], forced_tokens=120)


@pytest.fixture(scope="module")
def wide_server(slow_catalog: Path) -> Iterator[ServerThread]:
    # batches of 32: the deadline tests are sized in batches, and a batch that starts
    # before a deadline runs to its end (64 would let a third of the work through)
    server = ServerThread(slow_catalog, cache_mb=0, max_batch=32)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def batch_s(wide_server: ServerThread) -> float:
    """Seconds one full batch (``max_batch`` sentences, 120 tokens each) takes here: the
    best of three, after a warm-up call."""
    channel, stub = _stub(wide_server.address)
    stub.Translate(pb.TranslateRequest(texts=["Warm up."], target_language="fr"), timeout=600)
    size = wide_server.settings.max_batch
    times = []
    for attempt in range(3):
        request = pb.TranslateRequest(
            texts=[sentences(size, 900_000 + 1000 * attempt)],
            target_language="fr",
            source_language="en",
        )
        outcome, seconds = _timed_call(stub, request, 600)
        assert _code(outcome) == grpc.StatusCode.OK, outcome
        times.append(seconds)
    channel.close()
    return min(times)


@pytest.fixture(scope="module")
def small_server(slow_catalog: Path, batch_s: float) -> Iterator[ServerThread]:
    """At most ``CAPACITY`` calls at once; calls sent without a deadline get half a
    batch's time."""
    server = ServerThread(
        slow_catalog,
        cache_mb=0,
        max_concurrent_calls=CAPACITY,
        default_deadline_seconds=batch_s / 2,
    )
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


def _at_once(
    stub: Any, requests: list[pb.TranslateRequest], timeout: float
) -> list[tuple[Any, float]]:
    """Sends the requests at the same moment, each from its own thread."""
    barrier = threading.Barrier(len(requests))

    def call(request: pb.TranslateRequest) -> tuple[Any, float]:
        barrier.wait()
        return _timed_call(stub, request, timeout)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(call, requests))


def _code(outcome: Any) -> grpc.StatusCode:
    return outcome if isinstance(outcome, grpc.StatusCode) else outcome.code()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_overload_at_four_times_capacity_is_shed_fast(
    small_server: ServerThread, batch_s: float
) -> None:
    channel, stub = _stub(small_server.address)
    stub.Translate(pb.TranslateRequest(texts=["Warm up."], target_language="fr"), timeout=600)
    calls = CAPACITY * 4
    # The same burst of calls refused without any work (invalid): how long answering all
    # of them takes here. An admitted call carries twenty times that in batches of work
    # (shedding while inference runs is slower than this, a few times), so every call
    # arrives while the first admitted ones still run.
    invalid = [pb.TranslateRequest(texts=[""], target_language="fr")] * calls
    burst_s = max(s for _, s in _at_once(stub, invalid, 600))
    batches = min(4, math.ceil(20 * burst_s / batch_s))
    size = small_server.settings.max_batch * batches
    requests = [
        pb.TranslateRequest(
            texts=[sentences(size, 1000 * i)], target_language="fr", source_language="en"
        )
        for i in range(calls)
    ]
    guard = 10 * calls * batches * batch_s  # all of them, one after the other, ten times
    outcomes = _at_once(stub, requests, guard)
    channel.close()
    codes = [_code(o) for o, _ in outcomes]
    admitted = [s for o, s in outcomes if _code(o) == grpc.StatusCode.OK]
    shed = [(o, s) for o, s in outcomes if _code(o) == grpc.StatusCode.RESOURCE_EXHAUSTED]
    print(
        f"\noverload {calls} calls of {batches} batches ({batch_s:.2f}s each; a refused burst "
        f"{burst_s * 1000:.1f} ms) at capacity {CAPACITY}: admitted {len(admitted)} (min "
        f"{min(admitted):.2f}s, p50 {statistics.median(admitted):.2f}s, p99 "
        f"{_p(admitted, 0.99):.2f}s); shed {len(shed)} "
        f"(p50 {statistics.median([s for _, s in shed]) * 1000:.1f} ms, "
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
    # every call ends (a call counts until its response is sent, a moment after the client
    # has it)
    assert _settle(small_server, guard)


def test_calls_without_deadline_get_the_server_default(
    small_server: ServerThread, batch_s: float
) -> None:
    default = small_server.settings.default_deadline_seconds  # half a batch's time
    channel, stub = _stub(small_server.address)
    texts = [sentences(150, 50_000 + 1000 * i) for i in range(4)]
    work_s = len(texts) * 150 / small_server.settings.max_batch * batch_s  # ~19 batches
    request = pb.TranslateRequest(texts=texts, target_language="fr", source_language="en")
    outcome, seconds = _timed_call(stub, request, None)  # no deadline sent
    channel.close()
    assert _code(outcome) == grpc.StatusCode.DEADLINE_EXCEEDED, outcome
    # not cut before the default deadline, and long before the work could have been done
    assert default <= seconds < work_s / 4


def _settle(server: ServerThread, timeout: float) -> bool:
    """Waits until nothing is queued or running; says whether that happened in time."""
    batcher, servicer = server.engine.runner.batcher, server.running.servicer
    return wait_for(lambda: batcher.queued() == 0 and servicer.inflight == 0, timeout)


def test_short_deadlines_leave_no_work_threads_or_memory_behind(
    wide_server: ServerThread, batch_s: float
) -> None:
    channel, stub = _stub(wide_server.address)
    stats = wide_server.engine.runner.batcher.stats
    process = psutil.Process()
    rounds, per_round = 5, 32
    # Each call is two full batches: even the first one served needs four deadlines.
    size = 2 * wide_server.settings.max_batch
    deadline = batch_s / 2
    work_s = per_round * 2 * batch_s  # a round's calls, one after the other
    threads: list[int] = []
    rss: list[float] = []
    computed_before, submitted_before = stats.computed, stats.submitted
    pooled_before = [
        sum(t.name.startswith(prefix) for t in threading.enumerate())
        for prefix in ("request", "polybrief-leg")
    ]
    for round_index in range(rounds):
        requests = [
            pb.TranslateRequest(
                texts=[sentences(size, 100_000 * round_index + 1000 * i)],
                target_language="fr",
                source_language="en",
            )
            for i in range(per_round)
        ]
        with ThreadPoolExecutor(per_round) as pool:
            outcomes = list(pool.map(lambda r: _timed_call(stub, r, deadline), requests))
        assert {_code(o) for o, _ in outcomes} == {grpc.StatusCode.DEADLINE_EXCEEDED}
        # nobody hangs past the deadline: answered before one call's own work could be done
        assert max(s for _, s in outcomes) < deadline + 2 * batch_s
        # what is left is dropped, not computed: a batch at most finishes (ten times that)
        assert _settle(wide_server, 10 * (batch_s + deadline)), "work left behind"
        pooled = ("request", "polybrief-leg")
        threads.append(sum(not t.name.startswith(pooled) for t in threading.enumerate()))
        # other in-process servers of the session may still hold threads: the growth counts
        request_threads = sum(t.name.startswith("request") for t in threading.enumerate())
        assert request_threads - pooled_before[0] <= wide_server.settings.max_concurrent_calls
        leg_threads = sum(t.name.startswith("polybrief-leg") for t in threading.enumerate())
        assert leg_threads - pooled_before[1] <= wide_server.settings.leg_threads
        rss.append(process.memory_info().rss / 2**20)
    channel.close()
    submitted = stats.submitted - submitted_before
    computed = stats.computed - computed_before
    print(
        f"\n{rounds}x{per_round} calls with a {deadline:.2f}s deadline (a batch: {batch_s:.2f}s, "
        f"a round's work: {work_s:.1f}s): {submitted} segments submitted, "
        f"{computed} computed; non-request threads per round {threads}; RSS MB per round "
        f"{[round(r) for r in rss]}"
    )
    assert wide_server.engine.runner.batcher.queued() == 0
    assert wide_server.running.servicer.inflight == 0
    assert computed < submitted / 4  # expired work was dropped, not computed
    # request and leg threads are pooled (at most their settings); no other thread is left
    assert max(threads[1:]) <= threads[0]
    assert rss[-1] - rss[1] < 64  # MB; no growth beyond noise across rounds
