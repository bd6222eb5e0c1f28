"""The real server as a process (``polybrief-server serve`` on tiny models) being stopped: SIGTERM
drains the calls in flight and turns new ones away with UNAVAILABLE; SIGKILL fails the
calls in flight fast, and a client given two servers finishes them on the other one."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from polybrief import client as pc

POLYBRIEF = str(Path(sys.executable).parent / "polybrief-server")
GRACE = 10.0  # POLYBRIEF_GRACE_SECONDS of the servers
EXIT_MARGIN = 10.0  # after the drain: closing the engine, interpreter teardown
WORDS = ["navy", "president", "army", "city", "river", "house", "market", "school"]


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
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBRIEF_")}
        env.update(
            POLYBRIEF_GRACE_SECONDS=str(GRACE),
            POLYBRIEF_PRELOAD="false",  # models load at first use: starts in ~3 s, not ~9 s
            POLYBRIEF_LOG_LEVEL="WARNING",
            GRPC_VERBOSITY="NONE",
        )
        command = [POLYBRIEF, "serve", "--catalog", str(catalog), "--port", str(self.port)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, "--threads", "1"], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_serving(self, timeout: float = 120) -> None:
        with pc.Client(self.address, timeout=10) as client:
            try:
                client.wait_until_serving(timeout)
            except pc.UnavailableError:
                pytest.fail(f"server did not start; its log:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def signal(self, sig: signal.Signals) -> float:
        """Sends ``sig``; returns when (time.monotonic)."""
        self.process.send_signal(sig)
        return time.monotonic()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


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
    """Five texts of 250 distinct sentences (~98 000 characters, under the limits): ~1 s
    of tiny-model inference, never served from the translation cache."""
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


def warm(address: str) -> None:
    """Loads the model the long calls use (with a short call)."""
    with pc.Client(address, timeout=60) as client:
        (result,) = client.translate("The navy sailed at dawn.", to="fr", source="en")
    assert result.error is None, result.error


def watch_health(address: str) -> tuple[list[str], Callable[[], None]]:
    """Statuses a Health.Watch stream opened now receives, and a function that ends it."""
    channel = grpc.insecure_channel(address)
    stream: Any = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
    seen: list[str] = []

    def read() -> None:
        try:
            for reply in stream:
                seen.append(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
        except grpc.RpcError:
            pass  # cancelled, or the server went away

    thread = threading.Thread(target=read, daemon=True)
    thread.start()

    def stop() -> None:
        stream.cancel()
        thread.join(timeout=10)
        channel.close()

    return seen, stop


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


IN_FLIGHT = 0.5  # seconds between starting the long calls (~1 s each) and the signal


def test_sigterm_drains_calls_in_flight(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    server.wait_serving()
    warm(server.address)
    seen, stop_watching = watch_health(server.address)
    assert wait_for(lambda: seen == ["SERVING"], 10), seen
    with pc.Client(server.address, timeout=60) as client, ThreadPoolExecutor(4) as pool:
        calls = [pool.submit(translate, client, seed) for seed in range(1, 5)]
        time.sleep(IN_FLIGHT)
        assert not any(call.done() for call in calls)
        sigterm = server.signal(signal.SIGTERM)

        # Only streams already open see the drain: a Health.Watch stream gets NOT_SERVING.
        assert wait_for(lambda: "NOT_SERVING" in seen, 5), seen
        # New calls are refused at once (the listener is closed), on a connection that
        # was open before the signal as on a new one; so is a health check.
        for other in (client, pc.Client(server.address, timeout=10)):
            started = time.monotonic()
            with pytest.raises(pc.UnavailableError):
                other.detect("a new call after SIGTERM", timeout=10)
            assert time.monotonic() - started < 5  # refused, not left waiting
        with pc.Client(server.address, timeout=5) as late, pytest.raises(pc.UnavailableError):
            late.health()

        for call in calls:
            result, finished = call.result(timeout=GRACE)  # raises if the call failed
            assert_complete(result)
            assert finished > sigterm  # it was in flight when the signal came
    # the drain ends with the last call: the open Watch stream does not hold it to GRACE
    assert server.process.wait(timeout=GRACE + EXIT_MARGIN) == 0, server.output()
    assert time.monotonic() - sigterm < GRACE / 2
    stop_watching()


def test_sigkill_fails_calls_in_flight_fast(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    server.wait_serving()
    warm(server.address)
    with pc.Client(server.address, timeout=60) as client, ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(translate, client, seed) for seed in (11, 12)]
        time.sleep(IN_FLIGHT)
        assert not any(call.done() for call in calls)
        killed = server.signal(signal.SIGKILL)
        for call in calls:
            with pytest.raises(pc.UnavailableError):
                call.result(timeout=30)
            assert time.monotonic() - killed < 5  # the deadline was 60 s


def test_sigkill_fails_over_to_the_second_server(
    start_server: Callable[..., ServerProcess],
) -> None:
    first = start_server()
    second_port = free_port()
    first.wait_serving()
    targets = [first.address, f"127.0.0.1:{second_port}"]
    with pc.Client(targets, timeout=60) as client, ThreadPoolExecutor(2) as pool:
        assert client.health() == "SERVING"  # connected to the first: the only one up
        second = start_server(second_port)
        second.wait_serving()
        warm(first.address)
        warm(second.address)
        calls = [pool.submit(translate, client, seed) for seed in (21, 22)]
        time.sleep(IN_FLIGHT)
        assert not any(call.done() for call in calls)
        killed = first.signal(signal.SIGKILL)
        for call in calls:
            result, finished = call.result(timeout=60)
            assert_complete(result)
            assert finished > killed
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
    outcomes: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with pc.Client([first.address, second.address], timeout=20) as client:
            while not stop.is_set():
                try:
                    client.detect("Le président a ordonné à la marine de partir.")
                    outcomes.append("OK")
                except pc.PolybriefError as error:
                    outcomes.append(f"{error.code.name}: {error.details}")

    def stop_under_load(server: ServerProcess) -> None:
        assert wait_for(lambda: len(outcomes) > 300, 20)
        before = len(outcomes)
        server.signal(signal.SIGTERM)
        assert wait_for(lambda: len(outcomes) > before + 500, 20)
        assert server.process.wait(timeout=GRACE + EXIT_MARGIN) == 0, server.output()

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
            thread.join(timeout=30)
    failures = [code for code in outcomes if code != "OK"]
    assert failures == [], f"{len(failures)} of {len(outcomes)} calls failed: {failures}"
