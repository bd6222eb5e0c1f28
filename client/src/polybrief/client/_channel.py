"""Channel settings shared by ``Client`` and ``AsyncClient``: retries, limits, metadata.

Retries are done by gRPC itself, configured through the service config: a call that
fails with UNAVAILABLE (server restarting, not ready, connection refused, killed
mid-call) or with a CANCELLED the server sent is tried up to 4 times in all, with
exponential backoff from 0.1 s up to 2 s, within the call's deadline. That covers every
method of ``polybrief.v1.Polybrief`` and of ``grpc.health.v1.Health``.

CANCELLED is retried because a gRPC server that begins a graceful stop (SIGTERM) cancels
the calls that reached it but had not yet been handed to a handler: that work was never
started. With 16 clients busy on two servers, each stop cancelled about a dozen calls
(tests/test_shutdown.py), which then failed instead of moving to the other server. A
call the caller cancels itself is never retried (gRPC ends it locally), and polybrief's
handlers answer CANCELLED only to a caller that has already gone away.

All four polybrief RPCs are retried, TranslateText included: they are idempotent (the same
request gives the same answer and changes nothing on the server), so a retry can at
worst repeat work. Google Cloud Translation v3 makes the other choice and does not retry
``TranslateText`` (it is billed per character); polybrief has no such cost. Other codes
(DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, …) are not retried: they are the caller's to
handle, with ``OverloadedError.retry_after`` as a hint.

A fleet of servers: every channel balances calls with gRPC's ``round_robin`` policy. It
connects to every address its target resolves to and sends each call to the next
connected one, so one client spreads its calls over all the replicas (``pick_first``,
gRPC's default, would send them all to one). A call that fails with UNAVAILABLE is
retried by the policy above, and the retry goes to the next connected replica. When
those retries run out on a fleet (no replica was ready for 0.7 s: the one left was
stopped while its replacement's connection was still in gRPC's reconnect backoff, or
every replica is starting), the client waits for the channel to have a ready replica
and makes the call again, up to ``FLEET_WAIT_ROUNDS`` times, all within the call's
deadline; a call on a fleet with no ready replica therefore fails with UNAVAILABLE at
its deadline, not after 0.7 s (one "host:port" target still fails fast). A server
that went away (killed, or draining after SIGTERM: it sends GOAWAY and refuses new
connections) leaves the rotation as soon as its connection breaks, and rejoins it when
it accepts connections again (gRPC reconnects with backoff). A fleet's channel also
checks each replica's health (client-side health checking, ``FLEET_SERVICE_CONFIG``): a
replica whose overall health is not SERVING, one still loading its models or one that
began draining, gets no call until it is SERVING again; so ``health()`` and
``wait_until_serving`` on a fleet ask a replica that serves, and find none (UNAVAILABLE)
while none does. A single "host:port" target is not health-checked: ``health()`` then
reports that server's own state, NOT_SERVING included. ``options`` given to the
client replace the policy: ``options=[("grpc.lb_policy_name", "pick_first")]`` sends
every call to the first address that accepts a connection (the behaviour before 0.2.0).

The target can be:

- one string, passed to gRPC unchanged: "host:port" or any gRPC target URI. With
  ``dns:///name:port`` (a Kubernetes headless Service: one A record per ready pod) gRPC
  resolves the name itself and resolves it again when a connection closes (at most every
  30 s), which the server provokes every ``max_connection_age_seconds``: replicas that
  were added since are then used, and removed ones dropped.
- a list of "host:port" strings: ``channel_target`` turns ``["10.0.0.1:50051",
  "10.0.0.2:50051"]`` into one gRPC target listing every address
  (``ipv4:10.0.0.1:50051,10.0.0.2:50051``); host names in a list are resolved once, when
  the client is made (use ``dns:///`` for a set that changes).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

import grpc
from polybrief.client._errors import UnavailableError

log = logging.getLogger("polybrief.client")

DEFAULT_TARGET = "localhost:50051"
DEFAULT_TIMEOUT = 30.0
SERVICE = "polybrief.v1.Polybrief"
HEALTH_SERVICE = "grpc.health.v1.Health"
MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024

RETRY_POLICY: dict[str, Any] = {
    "maxAttempts": 4,
    "initialBackoff": "0.1s",
    "maxBackoff": "2s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE", "CANCELLED"],
}
METHOD_CONFIG: list[dict[str, Any]] = [
    {
        "name": [{"service": SERVICE}, {"service": HEALTH_SERVICE}],
        "retryPolicy": RETRY_POLICY,
    }
]
SERVICE_CONFIG = json.dumps({"methodConfig": METHOD_CONFIG})
#: The service config of a fleet (several targets, or a ``dns:`` target): the same, and
#: client-side health checking: the channel watches each replica's overall health
#: (service "") and leaves the ones that are not SERVING (starting, draining) out of the
#: rotation. A server without the health service counts as healthy.
FLEET_SERVICE_CONFIG = json.dumps(
    {"methodConfig": METHOD_CONFIG, "healthCheckConfig": {"serviceName": ""}}
)
#: How many times a fleet's call that failed with UNAVAILABLE after the retries above
#: waits for a ready replica and is made again, within its deadline (``ReplicaWait``).
FLEET_WAIT_ROUNDS = 3
#: gRPC retries a call only while its request is buffered, 256 KiB by default: a larger
#: request (100 000 characters of CJK text is ~300 KB) would otherwise never be retried.
RETRY_BUFFER_BYTES = 16 * 1024 * 1024
#: How calls are spread over the addresses of the target (see the module docstring).
LB_POLICY = "round_robin"
CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.service_config", SERVICE_CONFIG),
    # a channel argument, not the service config's loadBalancingConfig (which would win
    # over it): so that a client's ``options`` can choose another policy
    ("grpc.lb_policy_name", LB_POLICY),
    ("grpc.enable_retries", 1),
    ("grpc.per_rpc_retry_buffer_size", RETRY_BUFFER_BYTES),
    ("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES),
)


def channel_options(extra: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The client's channel options, where an ``extra`` option replaces a default of the
    same name (gRPC itself would keep the first of two)."""
    merged = dict(CHANNEL_OPTIONS)
    merged.update(extra)
    return list(merged.items())


def _split_host_port(target: str) -> tuple[str, int]:
    """("10.0.0.1", 50051) of "10.0.0.1:50051"; IPv6 addresses are written "[::1]:50051"."""
    host, sep, port_text = target.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"target {target!r}: write an IPv6 address as [address]:port")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"target {target!r} is not host:port (port 1..65535)")
    return host, int(port_text)


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The IP addresses of ``host``: itself when it is one, else what the resolver says."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        log.warning("target %s:%d does not resolve (%s); left out", host, port, error)
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def channel_target(target: str | Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The gRPC target of one channel over ``target``, and the targets as given.

    A string is one target, passed to gRPC unchanged ("host:port" or any gRPC target URI
    such as ``dns:///name:port``, ``ipv4:a:p,b:p``, ``unix:path``). A sequence of
    "host:port" strings (IPv6 as "[addr]:port") becomes one ``ipv4:`` target listing
    every address in order (``ipv6:`` with IPv4-mapped addresses when some are IPv6);
    host names are resolved now, and one that does not resolve is left out.

    Raises ValueError for a malformed target, UnavailableError when none resolves.
    """
    if isinstance(target, str):
        targets: tuple[str, ...] = (target.strip(),)
    else:
        targets = tuple(str(item).strip() for item in target)
    if not targets or not all(targets):
        raise ValueError(f"no target, or an empty one, in {target!r}")
    if len(targets) == 1:
        return targets[0], targets
    addresses: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]] = []
    for host, port in [_split_host_port(item) for item in targets]:
        for address in _addresses(host, port):
            if (address, port) not in addresses:
                addresses.append((address, port))
    if not addresses:
        raise UnavailableError(
            grpc.StatusCode.UNAVAILABLE, f"none of the targets {', '.join(targets)} resolves"
        )
    if all(a.version == 4 for a, _ in addresses):
        return "ipv4:" + ",".join(f"{a}:{port}" for a, port in addresses), targets
    mapped = [(f"::ffff:{a}" if a.version == 4 else str(a), port) for a, port in addresses]
    return "ipv6:" + ",".join(f"[{a}]:{port}" for a, port in mapped), targets


def is_fleet(targets: Sequence[str]) -> bool:
    """Whether ``targets`` (as given) name several servers: a list, or a ``dns:`` URI."""
    return len(targets) > 1 or targets[0].startswith("dns:")


def channel_args(
    target: str | Sequence[str], options: Sequence[tuple[str, Any]]
) -> tuple[str, tuple[str, ...], list[tuple[str, Any]]]:
    """(gRPC target, targets as given, channel options) for ``Client``/``AsyncClient``.

    Over several targets the channel's authority (the ``:authority`` header and, with
    TLS, the name the server certificates are checked against) is the first target's
    "host:port", unless ``options`` set ``grpc.default_authority`` (or, for TLS only,
    ``grpc.ssl_target_name_override``). A fleet (``is_fleet``) gets
    ``FLEET_SERVICE_CONFIG`` (health-checked replicas) unless ``options`` set
    ``grpc.service_config``.
    """
    grpc_target, targets = channel_target(target)
    extra = list(options)
    if is_fleet(targets) and not any(name == "grpc.service_config" for name, _ in extra):
        extra.insert(0, ("grpc.service_config", FLEET_SERVICE_CONFIG))
    if len(targets) > 1 and not any(name == "grpc.default_authority" for name, _ in extra):
        extra.insert(0, ("grpc.default_authority", targets[0]))
    return grpc_target, targets, channel_options(extra)


def _read(path: str | os.PathLike[str] | None, what: str) -> bytes | None:
    """The bytes of file ``path`` (None for None); the OSError names the file's role."""
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        failure = type(error)(f"cannot read the {what} {os.fspath(path)!r}: {error.strerror}")
        failure.errno = error.errno
        raise failure from None


def tls_credentials(
    ca: str | os.PathLike[str] | None = None,
    *,
    cert: str | os.PathLike[str] | None = None,
    key: str | os.PathLike[str] | None = None,
) -> grpc.ChannelCredentials:
    """TLS channel credentials from PEM files, for ``Client(..., credentials=...)``.

    ``ca``: the root certificates the server's certificate must chain to (default: the
    system's roots). ``cert`` and ``key``: the client's certificate chain and private key,
    for servers that require mutual TLS; give both or neither.

    Raises ValueError when only one of ``cert``/``key`` is given, OSError when a file
    cannot be read.
    """
    if (cert is None) != (key is None):
        raise ValueError("a client certificate needs its key and a key its certificate")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca, "CA certificates"),
        private_key=_read(key, "client key"),
        certificate_chain=_read(cert, "client certificate"),
    )


def auth_metadata(api_key: str | None) -> tuple[tuple[str, str], ...]:
    """``authorization: Bearer <key>`` call metadata, or none without a key."""
    return (("authorization", f"Bearer {api_key}"),) if api_key else ()
