"""Scale-out on loopback: three real ``polybrief-server serve`` processes (the tiny en→fr
model) behind one client, as a Deployment of three pods behind a headless Service.

- the client's round robin spreads calls over all three, counted by each server itself
  (``polybrief_requests_total`` on its metrics port);
- the servers close connections after ``max_connection_age_seconds`` (so clients
  re-resolve), and calls keep working across it;
- a rolling restart under steady load (SIGTERM one, start its replacement on the same
  address, wait until it serves, next) loses no call;
- a replica SIGKILLed while it runs calls loses none either: the client retries them on
  the others.

Each test prints what the lead quotes (calls per replica, calls lost). Nothing assumes a
speed: loads run until the servers' own counters show progress, with guards that only
catch hangs.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from polybrief import client as pc
from server_harness import subset_catalog, wait_for
from test_shutdown import SERVER, ServerProcess, free_port

GUARD = 300.0  # seconds before a wait is taken for a hang
GRACE = 120.0  # POLYBRIEF_GRACE_SECONDS: above any drain here (each ends with its last call)
AGE = 2.0  # POLYBRIEF_MAX_CONNECTION_AGE_SECONDS: connections cycle during every load
LOAD_THREADS = 6
MODEL = "tiny-marian-en-fr"
REQUESTS = re.compile(r"^polybrief_requests_total\{([^}]*)\} (\S+)$", re.MULTILINE)


class Replica(ServerProcess):
    """``polybrief-server serve`` on one port, with its metrics on another: the process of
    tests/test_shutdown.py (its waits, gauges and signals), started with this fleet's
    flags (connection age, no guards, no cache) instead of its environment."""

    def __init__(self, catalog: Path, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.metrics_port = free_port()
        self.log = log
        flags = {
            "catalog": catalog,
            "port": self.port,
            "metrics-port": self.metrics_port,
            "inference-threads": 1,
            "grace-seconds": GRACE,
            "max-connection-age-seconds": AGE,
            "cache-mb": 0,  # every call reaches the model
            "log-level": "WARNING",
        }
        command = [
            *SERVER,
            "serve",
            "--no-quality-guards",
            *(f"--{k}={v}" for k, v in flags.items()),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBRIEF_")}
        self.started = time.monotonic()
        self.start_s = 0.0
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, env={**env, "GRPC_VERBOSITY": "NONE"}, stdout=out, stderr=subprocess.STDOUT
            )

    def served(self) -> int:
        """Translate calls this server answered OK (its own counter)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=GUARD) as reply:
            metrics = reply.read().decode()
        total = 0.0
        for labels, value in REQUESTS.findall(metrics):
            if 'rpc="Translate"' in labels and 'code="OK"' in labels:
                total += float(value)
        return int(total)


@dataclass
class Fleet:
    """Three replicas; ``retired`` keeps the ones replaced, for their counts."""

    catalog: Path
    logs: Path
    replicas: list[Replica] = field(default_factory=list)
    retired: list[Replica] = field(default_factory=list)

    def start(self, port: int | None = None) -> Replica:
        log = self.logs / f"replica-{len(self.replicas) + len(self.retired)}.log"
        return Replica(self.catalog, log, port)

    @property
    def addresses(self) -> list[str]:
        return [r.address for r in self.replicas]


@pytest.fixture(scope="module")
def fleet(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    logs = tmp_path_factory.mktemp("fleet")
    catalog = subset_catalog(tiny_dir, logs / "catalog.toml", [MODEL])
    fleet = Fleet(catalog, logs)
    fleet.replicas = [fleet.start() for _ in range(3)]  # they start side by side
    for replica in fleet.replicas:
        replica.wait_serving()
    yield fleet
    for replica in fleet.replicas + fleet.retired:
        replica.stop()


class Load:
    """Steady load: ``LOAD_THREADS`` threads sending distinct Translate calls through one
    client (one channel, round robin) until stopped; every failure is kept."""

    def __init__(self, addresses: list[str]) -> None:
        self.client = pc.Client(addresses, timeout=GUARD)
        self.ok = 0
        self.failures: list[BaseException] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(LOAD_THREADS)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            number = next(self._numbers)
            text = f"Ship number {number} sailed with the allies at dawn."
            try:
                self.client.translate(text, to="fr", source="en")
            except Exception as error:  # every failure is a lost call
                with self._lock:
                    self.failures.append(error)
            else:
                with self._lock:
                    self.ok += 1

    def progressed(self, calls: int) -> None:
        """Waits until ``calls`` more calls have succeeded."""
        target = self.ok + calls
        assert wait_for(lambda: self.ok >= target or bool(self.failures), GUARD), "load stalled"

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(GUARD)
        self.client.close()

    @property
    def lost(self) -> int:
        return len(self.failures)


def test_round_robin_spreads_calls_over_all_replicas(fleet: Fleet) -> None:
    calls = 60
    with pc.Client(fleet.addresses, timeout=GUARD) as client:
        # until every replica has answered one: the channel is connected to all three
        assert wait_for(
            lambda: (
                client.translate("Warm up.", to="fr", source="en") is not None
                and all(r.served() for r in fleet.replicas)
            ),
            GUARD,
        )
        before = [r.served() for r in fleet.replicas]
        for number in range(calls):
            client.translate(f"Ship {number} sailed at dawn.", to="fr", source="en")
        counts = [r.served() - b for r, b in zip(fleet.replicas, before, strict=True)]
    print(f"\nround robin, {calls} sequential calls: per replica {counts}")
    assert sum(counts) == calls
    # strictly in turn (20 each) while every connection is up; a connection closed for
    # its age leaves the rotation for a moment
    assert min(counts) >= calls // 6, counts


def test_servers_close_connections_at_their_age(fleet: Fleet) -> None:
    """The max_connection_age setting reaches gRPC: an idle connection gets a GOAWAY
    after about AGE seconds and the channel leaves READY (then reconnects)."""
    states: list[grpc.ChannelConnectivity] = []
    with grpc.insecure_channel(fleet.addresses[0]) as channel:
        channel.subscribe(states.append, try_to_connect=True)
        assert wait_for(lambda: grpc.ChannelConnectivity.READY in states, GUARD), states
        ready_at = time.monotonic()
        ready = states.index(grpc.ChannelConnectivity.READY)
        assert wait_for(lambda: len(states) > ready + 1, GUARD), states
        lasted = time.monotonic() - ready_at
        channel.unsubscribe(states.append)
    assert states[ready + 1] != grpc.ChannelConnectivity.READY
    assert lasted >= AGE * 0.8  # gRPC jitters the age by ±10%; never closed early


def test_rolling_restart_under_load_loses_no_call(fleet: Fleet) -> None:
    load = Load(fleet.addresses)
    steps = []
    try:
        load.progressed(20)
        for index in range(len(fleet.replicas)):
            old = fleet.replicas[index]
            old_served = old.served()
            old.process.send_signal(signal.SIGTERM)
            new = fleet.start(old.port)  # the same address, as a pod that comes back
            assert old.process.wait(GUARD) == 0, old.output()  # drained and exited cleanly
            new.wait_serving()
            fleet.replicas[index] = new
            fleet.retired.append(old)
            # the replacement is back in the rotation: it answers calls of the load
            assert wait_for(lambda new=new: new.served() > 0 or bool(load.failures), GUARD)
            load.progressed(20)
            steps.append((index, old_served, new.served(), load.ok, load.lost))
    finally:
        load.stop()
    for index, old_served, new_served, ok, lost in steps:
        print(
            f"\nrolling restart of replica {index}: it had answered {old_served} calls, "
            f"its replacement {new_served} so far; load {ok} calls OK, {lost} lost"
        )
    print(f"rolling restart: {load.ok} calls, {load.lost} lost")
    assert load.failures == []
    assert all(r.served() > 0 for r in fleet.replicas)


def test_sigkilled_replicas_calls_complete_on_the_others(fleet: Fleet) -> None:
    victim, *survivors = fleet.replicas
    load = Load(fleet.addresses)
    try:
        load.progressed(20)
        # kill it while it is running calls
        assert wait_for(lambda: victim.inflight() > 0, GUARD)
        inflight = victim.inflight()
        before = [s.served() for s in survivors]
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(GUARD)
        load.progressed(40)
    finally:
        load.stop()
    after = [s.served() - b for s, b in zip(survivors, before, strict=True)]
    print(
        f"\nSIGKILL with {inflight} call(s) in flight on the victim: survivors answered "
        f"{after} calls since; load {load.ok} calls, {load.lost} lost"
    )
    assert load.failures == []
    assert all(count > 0 for count in after)
