"""The client's status-code mapping, retries, deadlines and channel settings, against a
real gRPC server whose Translate handler misbehaves on purpose (independent of the
polybrief engine)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from polybrief import client as pc
from polybrief.client import _channel
from polybrief.v1 import polybrief_pb2 as pb


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
    metadata of the last one."""

    def __init__(self) -> None:
        self.behaviour: Callable[[grpc.ServicerContext], Any] = _ok
        self.calls = 0
        self.metadata: dict[str, str] = {}

    def reset(self, behaviour: Callable[[grpc.ServicerContext], Any]) -> None:
        self.behaviour, self.calls, self.metadata = behaviour, 0, {}

    def handle(self, request: pb.TranslateRequest, context: grpc.ServicerContext) -> Any:
        self.calls += 1
        self.metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        return self.behaviour(context)


def _serve(handler: Scripted, credentials: grpc.ServerCredentials | None) -> tuple[Any, str]:
    server = grpc.server(futures.ThreadPoolExecutor(4))
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
            type="MODEL_NOT_INSTALLED", subject="m", description="polybrief models pull m"
        )
    ]
)
PRE_SUBJECT_ONLY = error_details_pb2.PreconditionFailure(
    violations=[error_details_pb2.PreconditionFailure.Violation(subject="opus-mt-en-fr")]
)
RETRY = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2, nanos=500_000_000))

CASES = [
    pytest.param(
        code_pb2.INVALID_ARGUMENT,
        (BAD,),
        pc.InvalidArgumentError,
        {"field_violations": [("texts[1]", "empty"), ("target_language", "zz?")]},
        id="invalid-argument",
    ),
    pytest.param(
        code_pb2.INVALID_ARGUMENT,
        (),
        pc.InvalidArgumentError,
        {"field_violations": []},
        id="invalid-argument-no-detail",
    ),
    pytest.param(
        code_pb2.FAILED_PRECONDITION,
        (PRE,),
        pc.ModelNotInstalledError,
        {"hint": "polybrief models pull m", "model": "m"},
        id="not-installed",
    ),
    pytest.param(
        code_pb2.FAILED_PRECONDITION,
        (PRE_SUBJECT_ONLY,),
        pc.ModelNotInstalledError,
        {"hint": "polybrief models pull opus-mt-en-fr", "model": "opus-mt-en-fr"},
        id="not-installed-subject-only",
    ),
    pytest.param(
        code_pb2.FAILED_PRECONDITION,
        (),
        pc.ModelNotInstalledError,
        {"hint": None, "model": None},
        id="not-installed-no-detail",
    ),
    pytest.param(
        code_pb2.RESOURCE_EXHAUSTED,
        (RETRY,),
        pc.OverloadedError,
        {"retry_after": 2.5},
        id="overloaded",
    ),
    pytest.param(
        code_pb2.RESOURCE_EXHAUSTED,
        (),
        pc.OverloadedError,
        {"retry_after": None},
        id="overloaded-no-retry-info",
    ),
    pytest.param(code_pb2.NOT_FOUND, (), pc.ModelNotFoundError, {}, id="not-found"),
    pytest.param(code_pb2.DEADLINE_EXCEEDED, (), pc.DeadlineExceededError, {}, id="deadline"),
    pytest.param(code_pb2.UNAUTHENTICATED, (), pc.UnauthenticatedError, {}, id="unauthenticated"),
    pytest.param(code_pb2.PERMISSION_DENIED, (), pc.PermissionDeniedError, {}, id="denied"),
    pytest.param(code_pb2.INTERNAL, (), pc.ServerError, {}, id="internal"),
    pytest.param(code_pb2.UNKNOWN, (), pc.ServerError, {}, id="unknown"),
    pytest.param(code_pb2.DATA_LOSS, (), pc.ServerError, {}, id="other"),
]


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
    assert method["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]


def _slow(ctx: grpc.ServicerContext) -> Any:
    time.sleep(2)
    return _ok(ctx)


def test_every_call_has_a_deadline(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_slow)
    started = time.monotonic()
    with pc.Client(address, timeout=0.3) as client, pytest.raises(pc.DeadlineExceededError):
        client.translate("x", to="fr")
    assert time.monotonic() - started < 1.5


def test_per_call_timeout_overrides_the_default(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.reset(_slow)
    started = time.monotonic()

    async def run() -> None:
        async with pc.AsyncClient(address, timeout=60) as client:
            with pytest.raises(pc.DeadlineExceededError):
                await client.translate("x", to="fr", timeout=0.3)

    asyncio.run(run())
    assert time.monotonic() - started < 1.5


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
