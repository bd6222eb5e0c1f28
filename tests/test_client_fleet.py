"""The client over a fleet: calls spread over every replica (``round_robin``), an
UNAVAILABLE replica's calls are retried on the others, ``dns:///`` targets, and the
policy can still be chosen through ``options``.

The servers are plain gRPC servers with a scripted Translate (no models), so every call
is counted where it lands; tests/test_scale_out.py does the same with real server
processes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc
from polybrief import client as pc
from polybrief.client import _channel
from polybrief.v1 import polybrief_pb2 as pb
from server_harness import wait_for

CALLS = 30
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Replica:
    """A Translate handler on its own server, counting the calls it received."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, health: bool = False) -> None:
        self.calls = 0
        self.refuse = False  # answer UNAVAILABLE, as a server that is draining does
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        self.health: grpc_health.HealthServicer | None = None
        if health:
            self.health = grpc_health.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        method = grpc.unary_unary_rpc_method_handler(
            self._handle,
            request_deserializer=pb.TranslateRequest.FromString,
            response_serializer=pb.TranslateResponse.SerializeToString,
        )
        stream = grpc.unary_stream_rpc_method_handler(
            self._stream,
            request_deserializer=pb.TranslateRequest.FromString,
            response_serializer=pb.TranslateEvent.SerializeToString,
        )
        handlers = {"Translate": method, "StreamTranslate": stream}
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("polybrief.v1.Polybrief", handlers),)
        )
        bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.port = self.server.add_insecure_port(bound)
        if not self.port:
            raise OSError(f"cannot bind {bound}")
        self.address = f"{host}:{self.port}"
        self.server.start()

    def _handle(self, request: pb.TranslateRequest, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.calls += 1
        if self.refuse:
            context.abort(grpc.StatusCode.UNAVAILABLE, "draining")
        return pb.TranslateResponse(target_language="fr")

    def _stream(self, request: pb.TranslateRequest, context: grpc.ServicerContext) -> Any:
        self._handle(request, context)
        yield pb.TranslateEvent(done=pb.TranslateDone(target_language="fr"))

    def serving(self, serving: bool) -> None:
        assert self.health is not None
        status = health_pb2.HealthCheckResponse.SERVING if serving else NOT_SERVING
        self.health.set("", status)

    def stop(self) -> None:
        self.server.stop(0)


@pytest.fixture
def fleet() -> Iterator[list[Replica]]:
    replicas = [Replica() for _ in range(3)]
    yield replicas
    for replica in replicas:
        replica.stop()


def _connected(client: pc.Client, replicas: list[Replica]) -> None:
    """Waits until the channel is connected to every replica: calls until each has had
    one (round robin only rotates over the connections that are up)."""
    for _ in range(200):
        if all(r.calls for r in replicas):
            break
        client.translate("x", to="fr")
    assert all(r.calls for r in replicas), [r.calls for r in replicas]
    for replica in replicas:
        replica.calls = 0


def test_round_robin_is_the_default_policy() -> None:
    options = dict(_channel.channel_options([]))
    assert options["grpc.lb_policy_name"] == "round_robin"
    # the service config does not name a policy, or it would win over the option
    assert "loadBalancingConfig" not in _channel.SERVICE_CONFIG
    chosen = dict(_channel.channel_options([("grpc.lb_policy_name", "pick_first")]))
    assert chosen["grpc.lb_policy_name"] == "pick_first"


def test_calls_spread_over_every_replica(fleet: list[Replica]) -> None:
    with pc.Client([r.address for r in fleet], timeout=10) as client:
        _connected(client, fleet)
        for _ in range(CALLS):
            assert client.translate("x", to="fr") == []
    counts = [r.calls for r in fleet]
    print(f"\ncalls per replica (round robin over a list): {counts}")
    assert counts == [CALLS // 3] * 3  # round robin: strictly in turn


def test_pick_first_can_still_be_chosen(fleet: list[Replica]) -> None:
    options = [("grpc.lb_policy_name", "pick_first")]
    with pc.Client([r.address for r in fleet], timeout=10, options=options) as client:
        for _ in range(CALLS):
            client.translate("x", to="fr")
    assert [r.calls for r in fleet] == [CALLS, 0, 0]


def test_unavailable_is_retried_on_another_replica(fleet: list[Replica]) -> None:
    with pc.Client([r.address for r in fleet], timeout=10) as client:
        _connected(client, fleet)
        fleet[0].refuse = True
        for _ in range(CALLS):
            assert client.translate("x", to="fr") == []  # none fails
    refused, *others = (r.calls for r in fleet)
    assert refused > 0  # it was tried ...
    assert sum(others) == CALLS  # ... and every call was answered by another one
    assert all(count >= CALLS // 3 for count in others)


def test_a_replica_that_goes_away_leaves_the_rotation(fleet: list[Replica]) -> None:
    with pc.Client([r.address for r in fleet], timeout=10) as client:
        _connected(client, fleet)
        fleet[0].stop()
        for _ in range(CALLS):
            client.translate("x", to="fr")
    assert fleet[0].calls == 0
    assert fleet[1].calls + fleet[2].calls == CALLS
    assert min(fleet[1].calls, fleet[2].calls) >= CALLS // 3


def test_replicas_not_serving_are_left_out() -> None:
    """Client-side health checking: a replica whose health says NOT_SERVING (starting,
    or draining after SIGTERM) gets no call until it says SERVING again."""
    replicas = [Replica(health=True) for _ in range(3)]
    try:
        replicas[0].serving(False)
        with pc.Client([r.address for r in replicas], timeout=10) as client:
            for _ in range(CALLS):
                client.translate("x", to="fr")
            assert replicas[0].calls == 0
            assert replicas[1].calls + replicas[2].calls == CALLS
            replicas[0].serving(True)
            assert wait_for(
                lambda: bool(client.translate("x", to="fr") == [] and replicas[0].calls), 10
            )
            replicas[2].serving(False)  # a drain begins: the health stream tells the client

            def left_out() -> bool:
                before = replicas[2].calls
                for _ in range(CALLS):
                    client.translate("x", to="fr")
                return replicas[2].calls == before

            assert wait_for(left_out, 10)
    finally:
        for replica in replicas:
            replica.stop()


def test_one_server_is_not_health_checked() -> None:
    """A single "host:port" target keeps asking the server itself: ``health`` reports
    NOT_SERVING rather than finding no server to ask."""
    replica = Replica(health=True)
    try:
        replica.serving(False)
        with pc.Client(replica.address, timeout=10) as client:
            assert client.health() == "NOT_SERVING"
        fleet = pc.Client([replica.address, replica.address], timeout=2)
        with fleet, pytest.raises(pc.UnavailableError):  # no replica is serving
            fleet.health()
    finally:
        replica.stop()


#: Longer than the channel's own retries can last (backoffs of at most 0.1 + 0.2 + 0.4 s,
#: wall-clock time whatever the machine's speed): a call still answered after it waited.
OUTLASTS_RETRIES_S = 3.0


def _serving_later(replica: Replica, after: threading.Event) -> threading.Thread:
    """A thread that makes ``replica`` SERVING ``OUTLASTS_RETRIES_S`` after ``after``."""

    def run() -> None:
        after.wait()
        time.sleep(OUTLASTS_RETRIES_S)
        replica.serving(True)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_fleet_call_waits_for_a_replica_within_its_deadline() -> None:
    """No replica ready when the call is made (every one starting, or the last one left
    stopped while its replacement's connection is in reconnect backoff): the call waits
    and is answered by the first replica to become ready; a single target fails fast."""
    replicas = [Replica(health=True) for _ in range(2)]
    try:
        for replica in replicas:
            replica.serving(False)
        with pc.Client(replicas[0].address, timeout=30) as single:
            began = time.monotonic()
            assert single.health() == "NOT_SERVING"  # a single target asks the server
            single_s = time.monotonic() - began
        called = threading.Event()
        later = _serving_later(replicas[1], called)
        with pc.Client([r.address for r in replicas], timeout=30) as client:
            began = time.monotonic()  # before the clock of the replica's delay starts
            called.set()
            assert client.translate("x", to="fr") == []
            waited = time.monotonic() - began
        later.join()
        assert [r.calls for r in replicas] == [0, 1]
        assert waited >= OUTLASTS_RETRIES_S > single_s
    finally:
        for replica in replicas:
            replica.stop()


def test_a_fleet_stream_and_an_async_call_wait_too() -> None:
    replica = Replica(health=True)
    fleet = [replica.address, replica.address]
    try:
        replica.serving(False)
        called = threading.Event()
        later = _serving_later(replica, called)
        with pc.Client(fleet, timeout=30) as client:
            called.set()
            events = list(client.stream_translate("x", to="fr"))
        later.join()
        assert events == [pc.TranslateDone("fr")]
        replica.serving(False)

        async def run() -> None:
            async with pc.AsyncClient(fleet, timeout=30) as client:
                called.set()
                assert await client.translate("x", to="fr") == []

        called = threading.Event()
        later = _serving_later(replica, called)
        asyncio.run(run())
        later.join()
        assert replica.calls == 2
    finally:
        replica.stop()


def test_a_restarted_replica_takes_the_calls_of_a_stopped_one() -> None:
    """The rolling restart's worst moment: the only connected replica stops just after
    its replacement came up on another port, before the channel reconnected to it."""
    first, second = Replica(), Replica()
    port = second.port
    second.stop()  # the replacement's address is down: the channel backs off from it
    try:
        with pc.Client([first.address, second.address], timeout=30) as client:
            for _ in range(CALLS):
                client.translate("x", to="fr")
            assert first.calls == CALLS
            first.stop()
            replacement = Replica(port=port)
            try:
                for _ in range(CALLS):
                    client.translate("x", to="fr")  # none fails
                assert replacement.calls == CALLS
            finally:
                replacement.stop()
    finally:
        first.stop()


def test_async_client_round_robins_too(fleet: list[Replica]) -> None:
    async def run() -> None:
        async with pc.AsyncClient([r.address for r in fleet], timeout=10) as client:
            for _ in range(CALLS * 2):
                await client.translate("x", to="fr")

    asyncio.run(run())
    assert all(r.calls > 0 for r in fleet), [r.calls for r in fleet]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    localhost = {info[4][0] for info in socket.getaddrinfo("localhost", 1)}
    return {"127.0.0.1", "::1"} <= localhost


def test_dns_target_balances_over_every_address() -> None:
    """``dns:///localhost:PORT`` with a server on 127.0.0.1 and one on [::1] (the two
    addresses of localhost): as a headless Service's name with two pods."""
    if not _has_ipv6_loopback():
        pytest.skip("localhost does not resolve to both 127.0.0.1 and ::1 here")
    first = Replica("127.0.0.1")
    try:
        second = Replica("::1", first.port)
    except OSError:
        first.stop()
        pytest.skip("no free [::1] port matching the 127.0.0.1 one")
    replicas = [first, second]
    try:
        with pc.Client(f"dns:///localhost:{first.port}", timeout=10) as client:
            assert client.target == f"dns:///localhost:{first.port}"
            _connected(client, replicas)
            for _ in range(CALLS):
                client.translate("x", to="fr")
        assert [r.calls for r in replicas] == [CALLS // 2] * 2
    finally:
        for replica in replicas:
            replica.stop()


def test_single_dns_target_works(fleet: list[Replica]) -> None:
    with pc.Client(f"dns:///127.0.0.1:{fleet[0].port}", timeout=10) as client:
        client.translate("x", to="fr")
    assert fleet[0].calls == 1
