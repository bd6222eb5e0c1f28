"""The client's status-code mapping, retries, deadlines and channel settings, against a
real gRPC server whose Translate handler misbehaves on purpose (independent of the
polybrief engine)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2_grpc
from grpc_status import rpc_status
from polybrief import client as pc
from polybrief.client import _channel
from polybrief.v1 import polybrief_pb2 as pb

UNREACHABLE = "127.0.0.1:9"  # discard port: nothing listens there


def _status(code: int, message: str, *details: Any) -> grpc.Status:
    packed = []
    for detail in details:
        item = any_pb2.Any()
        item.Pack(detail)
        packed.append(item)
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=packed))


def _ok(ctx: grpc.ServicerContext) -> pb.TranslateResponse:
    return pb.TranslateResponse(target_language="fr")


class Scripted:
    """A Translate handler whose behaviour each test sets; it counts calls and keeps the
    metadata of the last one. ``release`` frees the calls ``_held`` keeps waiting."""

    def __init__(self) -> None:
        self.behaviour: Callable[[grpc.ServicerContext], Any] = _ok
        self.calls = 0
        self.metadata: dict[str, str] = {}
        self.release = threading.Event()
        self.answered = 0  # calls ``_held`` answered

    def reset(self, behaviour: Callable[[grpc.ServicerContext], Any]) -> None:
        previous = self.release
        self.behaviour, self.calls, self.metadata, self.answered = behaviour, 0, {}, 0
        self.release = threading.Event()
        previous.set()  # a call the previous test left held ends now, uncounted

    def handle(self, request: pb.TranslateRequest, context: grpc.ServicerContext) -> Any:
        self.calls += 1
        self.metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        return self.behaviour(context)


def _serve(
    handler: Scripted, credentials: grpc.ServerCredentials | None, *, health: bool = False
) -> tuple[Any, str]:
    """A server of ``handler`` (and of the standard health service, SERVING, when asked)
    on a free port of 127.0.0.1; returns it and its address."""
    server = grpc.server(futures.ThreadPoolExecutor(4))
    if health:
        health_pb2_grpc.add_HealthServicer_to_server(grpc_health.HealthServicer(), server)
    method = grpc.unary_unary_rpc_method_handler(
        handler.handle,
        request_deserializer=pb.TranslateRequest.FromString,
        response_serializer=pb.TranslateResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("polybrief.v1.Polybrief", {"Translate": method}),)
    )
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[str, Scripted]]:
    handler = Scripted()
    server, address = _serve(handler, None)
    yield address, handler
    handler.release.set()
    server.stop(0)


BAD = error_details_pb2.BadRequest(
    field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="texts[1]", description="empty"),
        error_details_pb2.BadRequest.FieldViolation(field="target_language", description="zz?"),
    ]
)
PRE = error_details_pb2.PreconditionFailure(
    violations=[
        error_details_pb2.PreconditionFailure.Violation(
            type="MODEL_NOT_INSTALLED", subject="m", description="polybrief-server models pull m"
        )
    ]
)
PRE_SUBJECT_ONLY = error_details_pb2.PreconditionFailure(
    violations=[error_details_pb2.PreconditionFailure.Violation(subject="opus-mt-en-fr")]
)
RETRY = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2, nanos=500_000_000))


def _case(
    case_id: str, code: int, exc: type[pc.PolybriefError], *details: Any, **attrs: Any
) -> Any:
    """A case of the status-code table: the server aborts with ``code`` and ``details``;
    the client raises ``exc`` with ``attrs``."""
    return pytest.param(code, details, exc, attrs, id=case_id)


INVALID, PRECONDITION = code_pb2.INVALID_ARGUMENT, code_pb2.FAILED_PRECONDITION
EXHAUSTED = code_pb2.RESOURCE_EXHAUSTED
CASES = [
    _case("invalid-argument", INVALID, pc.InvalidArgumentError, BAD,
          field_violations=[("texts[1]", "empty"), ("target_language", "zz?")]),
    _case("invalid-argument-no-detail", INVALID, pc.InvalidArgumentError, field_violations=[]),
    _case("not-installed", PRECONDITION, pc.ModelNotInstalledError, PRE,
          hint="polybrief-server models pull m", model="m"),
    _case("not-installed-subject-only", PRECONDITION, pc.ModelNotInstalledError, PRE_SUBJECT_ONLY,
          hint="polybrief-server models pull opus-mt-en-fr", model="opus-mt-en-fr"),
    _case("not-installed-no-detail", PRECONDITION, pc.ModelNotInstalledError,
          hint=None, model=None),
    _case("overloaded", EXHAUSTED, pc.OverloadedError, RETRY, retry_after=2.5),
    _case("overloaded-no-retry-info", EXHAUSTED, pc.OverloadedError, retry_after=None),
    _case("not-found", code_pb2.NOT_FOUND, pc.ModelNotFoundError),
    _case("deadline", code_pb2.DEADLINE_EXCEEDED, pc.DeadlineExceededError),
    _case("unauthenticated", code_pb2.UNAUTHENTICATED, pc.UnauthenticatedError),
    _case("denied", code_pb2.PERMISSION_DENIED, pc.PermissionDeniedError),
    _case("internal", code_pb2.INTERNAL, pc.ServerError),
    _case("unknown", code_pb2.UNKNOWN, pc.ServerError),
    _case("other", code_pb2.DATA_LOSS, pc.ServerError),
]  # fmt: skip


@pytest.mark.parametrize(("code", "details", "exc", "attrs"), CASES)
def test_status_codes_map_to_exceptions(
    scripted: tuple[str, Scripted],
    code: int,
    details: tuple[Any, ...],
    exc: type[pc.PolybriefError],
    attrs: dict[str, Any],
) -> None:
    address, handler = scripted
    handler.reset(lambda ctx: ctx.abort_with_status(_status(code, "boom", *details)))
    with pc.Client(address, timeout=10) as client, pytest.raises(exc) as err:
        client.translate("x", to="fr")
    assert type(err.value) is exc
    assert err.value.details == "boom"
    assert err.value.code.value[0] == code
    for name, value in attrs.items():
        assert getattr(err.value, name) == value

    async def run() -> pc.PolybriefError:
        async with pc.AsyncClient(address, timeout=10) as aclient:
            with pytest.raises(exc) as aerr:
                await aclient.translate("x", to="fr")
            return aerr.value

    async_error = asyncio.run(run())
    assert type(async_error) is exc
    for name, value in attrs.items():
        assert getattr(async_error, name) == value


def _flaky(handler: Scripted, failures: int) -> Callable[[grpc.ServicerContext], Any]:
    def behaviour(ctx: grpc.ServicerContext) -> Any:
        if handler.calls <= failures:
            ctx.abort(grpc.StatusCode.UNAVAILABLE, "warming up")
        return _ok(ctx)

    return behaviour


def test_unavailable_is_retried_by_the_channel(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_flaky(handler, failures=2))
    with pc.Client(address, timeout=10) as client:
        assert client.translate("x", to="fr") == []
    assert handler.calls == 3


def test_large_requests_are_retried(scripted: tuple[str, Scripted]) -> None:
    """Over gRPC's default 256 KiB retry buffer (300 000 characters of CJK: ~900 KB)."""
    address, handler = scripted
    handler.reset(_flaky(handler, failures=1))
    with pc.Client(address, timeout=10) as client:
        assert client.translate(["文" * 100_000] * 3, to="fr") == []
    assert handler.calls == 2
    handler.reset(_flaky(handler, failures=1))
    grpc_default = [("grpc.per_rpc_retry_buffer_size", 256 * 1024)]
    client = pc.Client(address, timeout=10, options=grpc_default)
    with client, pytest.raises(pc.UnavailableError):
        client.translate(["文" * 100_000] * 3, to="fr")
    assert handler.calls == 1


def test_async_client_retries_too(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_flaky(handler, failures=2))

    async def run() -> list[pc.Translation]:
        async with pc.AsyncClient(address, timeout=10) as client:
            return await client.translate(["x"], to="fr")

    assert asyncio.run(run()) == []
    assert handler.calls == 3


def test_retries_stop_after_four_attempts(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_flaky(handler, failures=100))
    with pc.Client(address, timeout=10) as client, pytest.raises(pc.UnavailableError):
        client.translate("x", to="fr")
    assert handler.calls == 4


def test_other_codes_are_not_retried(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(lambda ctx: ctx.abort(grpc.StatusCode.INTERNAL, "bug"))
    with pc.Client(address, timeout=10) as client, pytest.raises(pc.ServerError):
        client.translate("x", to="fr")
    assert handler.calls == 1


def test_service_config_retries_both_services() -> None:
    config = json.loads(_channel.SERVICE_CONFIG)
    (method,) = config["methodConfig"]
    assert {n["service"] for n in method["name"]} == {
        "polybrief.v1.Polybrief",
        "grpc.health.v1.Health",
    }
    assert method["retryPolicy"]["maxAttempts"] == 4
    assert method["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE", "CANCELLED"]


def _held(handler: Scripted) -> Callable[[grpc.ServicerContext], Any]:
    """Answers once the test sets ``handler.release`` (or after 60 s); until then a call
    can only end by its deadline or by being cancelled."""

    def behaviour(ctx: grpc.ServicerContext) -> Any:
        release = handler.release
        release.wait(60)
        if release is handler.release:  # not a call of an earlier test
            handler.answered += 1
        return _ok(ctx)

    return behaviour


def test_every_call_has_a_deadline(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_held(handler))
    with pc.Client(address, timeout=0.3) as client, pytest.raises(pc.DeadlineExceededError):
        client.translate("x", to="fr")
    assert (handler.calls, handler.answered) == (1, 0)  # the deadline ended it, no answer


def test_per_call_timeout_overrides_the_default(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_held(handler))

    async def run() -> None:
        async with pc.AsyncClient(address, timeout=60) as client:
            with pytest.raises(pc.DeadlineExceededError):
                await client.translate("x", to="fr", timeout=0.3)

    asyncio.run(run())
    assert (handler.calls, handler.answered) == (1, 0)


def test_api_key_is_sent_as_bearer_metadata(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_ok)
    with pc.Client(address, api_key="s3cret") as client:
        client.translate("x", to="fr")
    assert handler.metadata["authorization"] == "Bearer s3cret"
    with pc.Client(address) as client:
        client.translate("x", to="fr")
    assert "authorization" not in handler.metadata


def test_secure_channel_with_credentials() -> None:
    handler = Scripted()
    server, address = _serve(handler, grpc.local_server_credentials())
    try:
        with pc.Client(address, credentials=grpc.local_channel_credentials()) as client:
            assert client.translate("x", to="fr") == []
    finally:
        server.stop(0)
    assert handler.calls == 1


def _big(ctx: grpc.ServicerContext) -> pb.TranslateResponse:
    return pb.TranslateResponse(translations=[pb.Translation(text="x" * (10 * 1024 * 1024))])


def test_receives_messages_up_to_16_mib(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_big)  # 10 MiB: over gRPC's default 4 MiB receive limit
    with pc.Client(address, timeout=20) as client:
        (result,) = client.translate("x", to="fr")
    assert len(result.text) == 10 * 1024 * 1024


def test_extra_channel_options_win(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_big)
    options = [("grpc.max_receive_message_length", 1024)]
    with pc.Client(address, options=options) as client, pytest.raises(pc.OverloadedError):
        client.translate("x", to="fr")  # RESOURCE_EXHAUSTED, raised by gRPC itself


def test_bad_arguments_are_rejected_client_side(scripted: tuple[str, Scripted]) -> None:
    with pc.Client(scripted[0]) as client:
        with pytest.raises(ValueError, match="mode"):
            client.summarize("text", mode="creative")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_words"):
            client.summarize("text", max_words=-1)
    with pytest.raises(ValueError, match="timeout"):
        pc.Client(scripted[0], timeout=0)


def test_cancelled_from_the_server_is_retried(scripted: tuple[str, Scripted]) -> None:
    """A graceful stop cancels calls not yet handed to a handler: they are retried."""
    address, handler = scripted

    def cancelled_once(ctx: grpc.ServicerContext) -> Any:
        if handler.calls == 1:
            ctx.abort(grpc.StatusCode.CANCELLED, "server stopping")
        return _ok(ctx)

    handler.reset(cancelled_once)
    with pc.Client(address, timeout=10) as client:
        assert client.translate("x", to="fr") == []
    assert handler.calls == 2


def test_a_call_the_caller_cancels_is_not_retried(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_held(handler))

    async def run() -> None:
        async with pc.AsyncClient(address, timeout=10) as client:
            task = asyncio.create_task(client.translate("x", to="fr"))
            while handler.calls == 0:  # cancelled once the server has it
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.5)  # a retry would have reached the server by now

    asyncio.run(run())
    assert handler.calls == 1


# Several targets ---------------------------------------------------------------------------


def _fake_getaddrinfo(table: dict[str, list[str]]) -> Callable[..., Any]:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(0, 0, 0, "", (address, port)) for address in table[host]]

    return getaddrinfo


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("localhost:50051", "localhost:50051", id="string-verbatim"),
        pytest.param("dns:///a.example:1", "dns:///a.example:1", id="uri-verbatim"),
        pytest.param(["10.0.0.1:1"], "10.0.0.1:1", id="one-of-a-list"),
        pytest.param(["10.0.0.1:1", " 10.0.0.2:2 "], "ipv4:10.0.0.1:1,10.0.0.2:2", id="ipv4"),
        pytest.param(["10.0.0.1:1", "10.0.0.1:1", "10.0.0.1:2"], "ipv4:10.0.0.1:1,10.0.0.1:2",
                     id="duplicates"),
        pytest.param(["[::1]:1", "10.0.0.2:2"], "ipv6:[::1]:1,[::ffff:10.0.0.2]:2", id="mixed"),
        pytest.param(("two.example:7", "10.0.0.9:8"), "ipv4:10.0.0.3:7,10.0.0.4:7,10.0.0.9:8",
                     id="names-resolved"),
        pytest.param(["gone.example:7", "10.0.0.9:8"], "ipv4:10.0.0.9:8", id="unresolved-left-out"),
    ],
)  # fmt: skip
def test_channel_target(
    monkeypatch: pytest.MonkeyPatch, target: str | list[str], expected: str
) -> None:
    monkeypatch.setattr(
        socket, "getaddrinfo", _fake_getaddrinfo({"two.example": ["10.0.0.3", "10.0.0.4"]})
    )
    grpc_target, given = _channel.channel_target(target)
    assert grpc_target == expected
    assert given == (
        (target.strip(),) if isinstance(target, str) else tuple(t.strip() for t in target)
    )


@pytest.mark.parametrize(
    "target",
    [
        pytest.param([], id="empty-list"),
        pytest.param("", id="empty-string"),
        pytest.param(["10.0.0.1:1", ""], id="empty-item"),
        pytest.param(["10.0.0.1", "10.0.0.2:2"], id="no-port"),
        pytest.param(["10.0.0.1:http", "10.0.0.2:2"], id="named-port"),
        pytest.param(["10.0.0.1:0", "10.0.0.2:2"], id="port-0"),
        pytest.param(["10.0.0.1:70000", "10.0.0.2:2"], id="port-too-big"),
        pytest.param(["::1:5", "10.0.0.2:2"], id="ipv6-without-brackets"),
    ],
)
def test_bad_targets_are_rejected(target: str | list[str]) -> None:
    with pytest.raises(ValueError, match="target"):
        pc.Client(target)


def test_no_resolvable_target_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fake_getaddrinfo({}))
    with pytest.raises(pc.UnavailableError, match="none of the targets"):
        pc.Client(["gone.example:1", "also-gone.example:2"])


@pytest.fixture
def pair() -> Iterator[tuple[list[Any], list[str], list[Scripted]]]:
    """Two scripted servers: (servers, addresses, handlers)."""
    handlers = [Scripted(), Scripted()]
    started = [_serve(handler, None) for handler in handlers]
    servers = [server for server, _ in started]
    yield servers, [address for _, address in started], handlers
    for server in servers:
        server.stop(0)


def test_several_targets_fail_over(pair: tuple[list[Any], list[str], list[Scripted]]) -> None:
    servers, addresses, (first, second) = pair
    with pc.Client(addresses, timeout=10, api_key="k") as client:
        assert client.targets == tuple(addresses)
        assert client.target == ",".join(addresses)
        client.translate("x", to="fr")
        assert first.calls + second.calls == 1  # round robin: on either target
        servers[0].stop(0)
        for _ in range(4):  # within their deadline: all on the second server
            client.translate("x", to="fr")
    assert first.calls <= 1
    assert second.calls == 5 - first.calls
    assert second.metadata["authorization"] == "Bearer k"


def test_a_dead_first_target_is_skipped(
    pair: tuple[list[Any], list[str], list[Scripted]],
) -> None:
    servers, addresses, (_, second) = pair
    servers[0].stop(0)

    async def run() -> None:
        async with pc.AsyncClient(addresses, timeout=10) as client:
            assert await client.translate("x", to="fr") == []

    asyncio.run(run())
    with pc.Client([UNREACHABLE, addresses[1]], timeout=10) as client:
        client.translate("x", to="fr")
    with pc.Client(["[::1]:9", addresses[1]], timeout=10) as client:  # IPv6 and IPv4 mixed
        client.translate("x", to="fr")
    assert second.calls == 3


def test_all_targets_dead_is_unavailable(
    pair: tuple[list[Any], list[str], list[Scripted]],
) -> None:
    servers, addresses, _ = pair
    for server in servers:
        server.stop(0)
    # UNAVAILABLE, not DEADLINE_EXCEEDED: the retries gave up before the deadline
    with pc.Client(addresses, timeout=20) as client, pytest.raises(pc.UnavailableError):
        client.translate("x", to="fr")


# TLS -------------------------------------------------------------------------------------


def make_certs(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for localhost / 127.0.0.1 and a client certificate,
    made with the openssl command (skips the test without it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make test certificates")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    days = ("-days", "2")
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        *days,
        "-subj",
        "/CN=polybrief-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    for name, extra in (("server", ("-extfile", "san.ext")), ("client", ())):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
        )
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", *days, *extra, "-out", f"{name}.pem")  # fmt: skip
    return {name: directory / name for name in (
        "ca.pem", "server.pem", "server.key", "client.pem", "client.key")}  # fmt: skip


def mtls_server_credentials(certs: dict[str, Path]) -> grpc.ServerCredentials:
    """Server credentials that require a client certificate signed by the test CA."""
    return grpc.ssl_server_credentials(
        [(certs["server.key"].read_bytes(), certs["server.pem"].read_bytes())],
        root_certificates=certs["ca.pem"].read_bytes(),
        require_client_auth=True,
    )


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def mtls_pair(
    certs: dict[str, Path],
) -> Iterator[tuple[list[Any], list[str], list[Scripted]]]:
    """Two scripted servers requiring mutual TLS, addressed as localhost:PORT."""
    handlers = [Scripted(), Scripted()]
    started = [_serve(h, mtls_server_credentials(certs)) for h in handlers]
    servers = [server for server, _ in started]
    addresses = [address.replace("127.0.0.1", "localhost") for _, address in started]
    yield servers, addresses, handlers
    for server in servers:
        server.stop(0)


def test_mutual_tls_from_files(
    certs: dict[str, Path], mtls_pair: tuple[list[Any], list[str], list[Scripted]]
) -> None:
    servers, addresses, (first, second) = mtls_pair
    credentials = pc.tls_credentials(
        certs["ca.pem"], cert=certs["client.pem"], key=str(certs["client.key"])
    )
    with pc.Client(addresses[0], credentials=credentials, api_key="k", timeout=10) as client:
        assert client.translate("x", to="fr") == []
    assert first.metadata["authorization"] == "Bearer k"
    # several targets: every server is checked against the first target's name (localhost)
    with pc.Client(addresses, credentials=credentials, timeout=10) as client:
        client.translate("x", to="fr")  # round robin: either server
        before = second.calls
        servers[0].stop(0)
        client.translate("x", to="fr")
    assert second.calls == before + 1  # the one left, checked against "localhost" too
    assert first.calls + second.calls == 3


def test_tls_is_checked(
    certs: dict[str, Path], mtls_pair: tuple[list[Any], list[str], list[Scripted]]
) -> None:
    _, addresses, (first, second) = mtls_pair
    no_client_cert = pc.tls_credentials(certs["ca.pem"])
    client = pc.Client(addresses[0], credentials=no_client_cert, timeout=5)
    with client, pytest.raises(pc.UnavailableError):
        client.translate("x", to="fr")
    full = pc.tls_credentials(certs["ca.pem"], cert=certs["client.pem"], key=certs["client.key"])
    wrong_name = [("grpc.default_authority", "elsewhere.example")]
    client = pc.Client(addresses, credentials=full, options=wrong_name, timeout=5)
    with client, pytest.raises(pc.UnavailableError):  # the certificate is not for that name
        client.translate("x", to="fr")
    assert first.calls == second.calls == 0


def test_tls_credentials_arguments(certs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="key"):
        pc.tls_credentials(certs["ca.pem"], cert=certs["client.pem"])
    with pytest.raises(ValueError, match="certificate"):
        pc.tls_credentials(key=certs["client.key"])
    with pytest.raises(OSError, match="cannot read the CA certificates"):
        pc.tls_credentials(tmp_path / "missing.pem")
    assert isinstance(pc.tls_credentials(), grpc.ChannelCredentials)  # the system's roots
