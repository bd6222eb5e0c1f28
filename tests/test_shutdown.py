"""The real server as a process (``polybrief-server serve`` on tiny models) being stopped:
SIGTERM drains the calls in flight and turns new ones away with UNAVAILABLE; SIGKILL
fails the calls in flight fast, and a client given two servers finishes them on the other.

Nothing here assumes how fast the machine is: each test first measures how long one long
call takes on its server, and how long the client takes to give up on an address nobody
answers (its retries), then sizes its work from them and asserts orderings (every refusal
comes while calls are still in flight, the drain ends with the last call) and margins that
are fractions of what it measured.
"""

from __future__ import annotations

import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from polybrief import client as pc
from server_harness import wait_for

SERVER = [str(Path(sys.executable).parent / "polybrief-server")]
# POLYBRIEF_GRACE_SECONDS of the servers: an upper bound never reached here. Every drain
# these tests start ends with its last call, and they assert that it does.
GRACE = 600.0
START_GUARD = 300.0  # seconds a server may take to start before a test gives up on it
WORDS = ["navy", "president", "army", "city", "river", "house", "market", "school"]
INFLIGHT = re.compile(r"^polybrief_inflight_calls (\S+)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``polybrief-server serve`` on the tiny catalogue, its output in a log file."""

    def __init__(self, catalog: Path, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.metrics_port = free_port()
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBRIEF_")}
        env.update(
            POLYBRIEF_CATALOG=str(catalog),
            POLYBRIEF_PORT=str(self.port),
            POLYBRIEF_METRICS_PORT=str(self.metrics_port),
            POLYBRIEF_INFERENCE_THREADS="1",
            POLYBRIEF_GRACE_SECONDS=str(GRACE),
            POLYBRIEF_PRELOAD="false",  # models load at first use: starts in a third the time
            POLYBRIEF_LOG_LEVEL="WARNING",
            # a call's five texts are queued at once (1,250 segments): room for every
            # call these tests send, so that the queue bound never refuses one
            POLYBRIEF_MAX_QUEUE="1000000",
            GRPC_VERBOSITY="NONE",
        )
        self.started = time.monotonic()
        self.start_s = 0.0  # how long it took to start serving, once it has
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*SERVER, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_serving(self) -> None:
        with pc.Client(self.address, timeout=START_GUARD) as client:
            try:
                client.wait_until_serving(START_GUARD)
            except pc.UnavailableError:
                pytest.fail(f"server did not start; its log:\n{self.output()}")
        self.start_s = time.monotonic() - self.started

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def inflight(self) -> int:
        """Calls the server is running now (its own gauge)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=START_GUARD) as reply:
            found = INFLIGHT.search(reply.read().decode())
        assert found, "no polybrief_inflight_calls gauge"
        return int(float(found.group(1)))

    def signal(self, sig: signal.Signals) -> float:
        """Sends ``sig``; returns when (time.monotonic)."""
        self.process.send_signal(sig)
        return time.monotonic()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=START_GUARD)


@pytest.fixture
def start_server(tiny_dir: Path, tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Starts server processes (not yet waited for); kills the survivors afterwards."""
    started: list[ServerProcess] = []

    def start(port: int | None = None) -> ServerProcess:
        log = tmp_path / f"server-{len(started)}.log"
        started.append(ServerProcess(tiny_dir / "catalog.toml", log, port))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def long_texts(seed: int) -> list[str]:
    """Five texts of 250 distinct sentences (~98 000 characters, just under the limit on
    a call's input): the longest call there is, never served from the translation cache
    (every ``seed`` gives other sentences)."""
    rng = random.Random(seed)
    return [
        " ".join(
            f"The {' '.join(rng.choice(WORDS) for _ in range(7))} number {seed}-{item}-{i}."
            for i in range(250)
        )
        for item in range(5)
    ]


def translate(client: pc.Client, seed: int) -> tuple[list[pc.Translation], float]:
    """A long en→fr translation; returns it and when it finished (time.monotonic)."""
    result = client.translate(long_texts(seed), to="fr", source="en")
    return result, time.monotonic()


def assert_complete(result: list[pc.Translation]) -> None:
    assert len(result) == 5
    for item in result:
        assert item.error is None, item.error
        assert item.text
        assert [step.model for step in item.route.steps] == ["tiny-marian-en-fr"]


@dataclass(frozen=True)
class Pace:
    """What a test measured before it began: the sizes and margins it uses come from it."""

    start_s: float  # the server starting to serve
    call_s: float  # one long call (``translate``) alone on the warm server
    refusal_s: float  # a call to an address nobody listens on: the client's retries

    @property
    def guard(self) -> float:
        """Seconds after which a wait that should have ended long before is a failure."""
        return 10 * (self.start_s + self.call_s + self.refusal_s)

    def calls_for(self, busy_s: float, least: int) -> int:
        """How many long calls sent at once keep one inference thread busy ``busy_s``."""
        return min(48, max(least, math.ceil(busy_s / self.call_s)))


def refusal_s() -> float:
    """How long the client takes to give up on an address nobody listens on."""
    with pc.Client(f"127.0.0.1:{free_port()}", timeout=START_GUARD) as client:
        began = time.monotonic()
        with pytest.raises(pc.UnavailableError):
            client.detect("nobody is listening")
        return time.monotonic() - began


def measure(server: ServerProcess, seed: int) -> Pace:
    """Loads the model the long calls use, then times one of them alone."""
    with pc.Client(server.address, timeout=START_GUARD) as client:
        (result,) = client.translate("The navy sailed at dawn.", to="fr", source="en")
        assert result.error is None, result.error
        began = time.monotonic()
        result, finished = translate(client, seed)
    assert_complete(result)
    return Pace(server.start_s, finished - began, refusal_s())


def send_in_flight(
    server: ServerProcess, pool: ThreadPoolExecutor, client: pc.Client, seeds: range, pace: Pace
) -> list[Future[tuple[list[pc.Translation], float]]]:
    """Starts a long call per seed and returns once the server is running all of them."""
    calls = [pool.submit(translate, client, seed) for seed in seeds]
    assert wait_for(lambda: server.inflight() == len(seeds), pace.guard), server.output()
    assert not any(call.done() for call in calls)
    return calls


def watch_health(address: str) -> tuple[list[str], list[float], Callable[[], None]]:
    """Statuses a Health.Watch stream opened now receives; the time (monotonic) the
    stream ended, once it has; and a function that ends it."""
    channel = grpc.insecure_channel(address)
    stream: Any = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
    seen: list[str] = []
    ended: list[float] = []

    def read() -> None:
        try:
            for reply in stream:
                seen.append(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
        except grpc.RpcError:
            pass  # cancelled, or the server went away
        ended.append(time.monotonic())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()

    def stop() -> None:
        stream.cancel()
        thread.join(timeout=START_GUARD)
        channel.close()

    return seen, ended, stop


def test_sigterm_drains_calls_in_flight(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    server.wait_serving()
    pace = measure(server, seed=0)
    # After the signal this test makes three refused calls (each about ``refusal_s``): the
    # calls in flight carry three times that work, so they are still running meanwhile.
    count = pace.calls_for(3 * 3 * pace.refusal_s, least=4)
    seen, watch_ended, stop_watching = watch_health(server.address)
    assert wait_for(lambda: seen == ["SERVING"], pace.guard), seen
    deadline = pace.guard + 2 * count * pace.call_s
    with pc.Client(server.address, timeout=deadline) as client, ThreadPoolExecutor(count) as pool:
        calls = send_in_flight(server, pool, client, range(1, count + 1), pace)
        sigterm = server.signal(signal.SIGTERM)

        # Only streams already open see the drain: a Health.Watch stream gets NOT_SERVING.
        assert wait_for(lambda: "NOT_SERVING" in seen, pace.guard), seen
        # New calls are refused (the listener is closed), on a connection that was open
        # before the signal as on a new one; so is a health check.
        refused = [time.monotonic()]
        for other in (client, pc.Client(server.address, timeout=pace.guard)):
            with pytest.raises(pc.UnavailableError):
                other.detect("a new call after SIGTERM")
            refused.append(time.monotonic())
        with (
            pc.Client(server.address, timeout=pace.guard) as late,
            pytest.raises(pc.UnavailableError),
        ):
            late.health()
        refused.append(time.monotonic())

        finished = []
        for call in calls:
            result, done = call.result(timeout=deadline)  # raises if the call failed
            assert_complete(result)
            finished.append(done)
    # every one was in flight when the signal came, and the refusals came while they ran
    # (a call queued behind them instead of refused would end after them)
    assert sigterm < min(finished)
    assert max(refused) < max(finished)
    assert server.process.wait(timeout=pace.guard) == 0, server.output()
    # The drain ends with the last call: the open Watch stream does not hold it to GRACE.
    # The server cancels that stream when its drain ends: the test sees both moments.
    assert wait_for(lambda: bool(watch_ended), pace.guard)
    print(
        f"\n{pace}: {count} calls; refusals done {max(refused) - sigterm:.2f}s after SIGTERM, "
        f"calls done {min(finished) - sigterm:.2f}..{max(finished) - sigterm:.2f}s, "
        f"drain ended {watch_ended[0] - max(finished):+.3f}s after the last"
    )
    assert watch_ended[0] - max(finished) < pace.call_s / 2, (watch_ended, finished)
    stop_watching()


def test_sigkill_fails_calls_in_flight_fast(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    server.wait_serving()
    pace = measure(server, seed=10)
    # in flight four times as long as the client takes to give up on a dead address
    count = pace.calls_for(4 * pace.refusal_s, least=2)
    deadline = pace.guard + 2 * count * pace.call_s
    with pc.Client(server.address, timeout=deadline) as client, ThreadPoolExecutor(count) as pool:
        submitted = time.monotonic()
        calls = send_in_flight(server, pool, client, range(11, 11 + count), pace)
        killed = server.signal(signal.SIGKILL)
        failed = []
        for call in calls:
            with pytest.raises(pc.UnavailableError):
                call.result(timeout=deadline)
            failed.append(time.monotonic())
    print(f"\n{pace}: {count} calls failed {max(failed) - killed:.2f}s after SIGKILL")
    # as fast as the client gives up on a dead address, long before the work could be done
    assert max(failed) - killed < 2 * pace.refusal_s + pace.call_s / 2
    assert max(failed) < submitted + count * pace.call_s


def test_sigkill_fails_over_to_the_second_server(
    start_server: Callable[..., ServerProcess],
) -> None:
    first = start_server()
    second_port = free_port()
    first.wait_serving()
    targets = [first.address, f"127.0.0.1:{second_port}"]
    with pc.Client(targets, timeout=START_GUARD) as client:
        assert client.health() == "SERVING"  # connected to the first: the only one up
        second = start_server(second_port)
        second.wait_serving()
        pace = measure(first, seed=20)
        measure(second, seed=21)  # loads its model too
        with ThreadPoolExecutor(4) as pool:
            # round robin: the calls alternate between the two servers
            calls = [pool.submit(translate, client, seed) for seed in range(22, 26)]
            running = lambda: (first.inflight(), second.inflight())  # noqa: E731
            assert wait_for(lambda: sum(running()) == 4, pace.guard), running()
            assert first.inflight() >= 1  # some calls are on the server about to die
            first.signal(signal.SIGKILL)
            for call in calls:  # all complete, those on the killed server on the other
                result, _ = call.result(timeout=pace.guard + 8 * pace.call_s)
                assert_complete(result)
        assert first.process.poll() is not None
        assert client.health() == "SERVING"  # the second server, on the same channel
    assert second.process.poll() is None


def test_sigterm_under_load_loses_no_call_with_two_servers(
    start_server: Callable[..., ServerProcess],
) -> None:
    """Steady short calls through two-server clients while the server they use is stopped,
    twice (the first is restarted and takes the traffic back when the second stops).
    Calls arriving as a stop begins are cancelled by gRPC before any handler runs, or
    refused by the server with UNAVAILABLE; the client retries both on the other one."""
    first, second = start_server(), start_server()
    first.wait_serving()
    second.wait_serving()
    text = "Le président a ordonné à la marine de partir."
    with pc.Client(first.address, timeout=START_GUARD) as client:
        client.detect(text)  # the detection model loads
        began = time.monotonic()
        for _ in range(20):
            client.detect(text)
        detect_s = (time.monotonic() - began) / 20
    # Sixteen clients make calls at least as fast as one alone; the guards are ten times
    # the time one client alone would take, plus what a server takes to start.
    start_s = max(first.start_s, second.start_s)

    def guard(calls: int) -> float:
        return 10 * (calls * detect_s + start_s)

    outcomes: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with pc.Client([first.address, second.address], timeout=guard(1)) as client:
            while not stop.is_set():
                try:
                    client.detect(text)
                    outcomes.append("OK")
                except pc.PolybriefError as error:
                    outcomes.append(f"{error.code.name}: {error.details}")

    def stop_under_load(server: ServerProcess) -> None:
        assert wait_for(lambda: len(outcomes) > 300, guard(300))
        before = len(outcomes)
        server.signal(signal.SIGTERM)
        assert wait_for(lambda: len(outcomes) > before + 500, guard(500))
        assert server.process.wait(timeout=guard(1)) == 0, server.output()

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    try:
        stop_under_load(first)  # the clients' traffic moves to the second server
        first = start_server(first.port)
        first.wait_serving()
        stop_under_load(second)  # and back to the first
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=guard(1))
    failures = [code for code in outcomes if code != "OK"]
    assert failures == [], f"{len(failures)} of {len(outcomes)} calls failed: {failures}"
