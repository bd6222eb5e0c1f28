"""The client's status-code mapping, retries and deadlines, against a real gRPC server
whose handlers fail on purpose (independent of the polybrief engine)."""

from __future__ import annotations

import asyncio
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
from polybrief.v1 import polybrief_pb2 as pb


def _status(code: int, message: str, *details: Any) -> grpc.Status:
    packed = []
    for detail in details:
        item = any_pb2.Any()
        item.Pack(detail)
        packed.append(item)
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=packed))


class Scripted:
    """A Translate handler whose behaviour each test sets."""

    def __init__(self) -> None:
        self.behaviour: Callable[[grpc.ServicerContext], Any] = lambda ctx: pb.TranslateResponse()
        self.calls = 0

    def handle(self, request: pb.TranslateRequest, context: grpc.ServicerContext) -> Any:
        self.calls += 1
        return self.behaviour(context)


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[str, Scripted]]:
    handler = Scripted()
    server = grpc.server(futures.ThreadPoolExecutor(4))
    method = grpc.unary_unary_rpc_method_handler(
        handler.handle,
        request_deserializer=pb.TranslateRequest.FromString,
        response_serializer=pb.TranslateResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("polybrief.v1.Polybrief", {"Translate": method}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", handler
    server.stop(0)


BAD = error_details_pb2.BadRequest(
    field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="texts[1]", description="empty")
    ]
)
PRE = error_details_pb2.PreconditionFailure(
    violations=[
        error_details_pb2.PreconditionFailure.Violation(
            type="MODEL_NOT_INSTALLED", subject="m", description="polybrief models pull m"
        )
    ]
)
RETRY = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2, nanos=500_000_000))

CASES = [
    (
        code_pb2.INVALID_ARGUMENT,
        (BAD,),
        pc.InvalidArgumentError,
        ("field_violations", [("texts[1]", "empty")]),
    ),
    (
        code_pb2.FAILED_PRECONDITION,
        (PRE,),
        pc.ModelNotInstalledError,
        ("hint", "polybrief models pull m"),
    ),
    (code_pb2.RESOURCE_EXHAUSTED, (RETRY,), pc.OverloadedError, ("retry_after", 2.5)),
    (code_pb2.NOT_FOUND, (), pc.ModelNotFoundError, None),
    (code_pb2.UNAUTHENTICATED, (), pc.UnauthenticatedError, None),
    (code_pb2.PERMISSION_DENIED, (), pc.PermissionDeniedError, None),
    (code_pb2.INTERNAL, (), pc.ServerError, None),
]


@pytest.mark.parametrize(("code", "details", "exc", "attr"), CASES)
def test_status_codes_map_to_exceptions(
    scripted: tuple[str, Scripted], code: int, details: Any, exc: type[pc.PolybriefError], attr: Any
) -> None:
    address, handler = scripted
    handler.behaviour = lambda ctx: ctx.abort_with_status(_status(code, "boom", *details))
    with pc.Client(address, timeout=10) as client, pytest.raises(exc) as err:
        client.translate("x", to="fr")
    assert err.value.details == "boom"
    if attr:
        assert getattr(err.value, attr[0]) == attr[1]

    async def run() -> None:
        async with pc.AsyncClient(address, timeout=10) as aclient:
            with pytest.raises(exc):
                await aclient.translate("x", to="fr")

    asyncio.run(run())


def test_unavailable_is_retried_by_the_channel(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted
    handler.calls = 0

    def flaky(ctx: grpc.ServicerContext) -> Any:
        if handler.calls < 3:
            ctx.abort(grpc.StatusCode.UNAVAILABLE, "warming up")
        return pb.TranslateResponse(target_language="fr")

    handler.behaviour = flaky
    with pc.Client(address, timeout=10) as client:
        assert client.translate("x", to="fr") == []
    assert handler.calls == 3


def test_every_call_has_a_deadline(scripted: tuple[str, Scripted]) -> None:
    address, handler = scripted

    def slow(ctx: grpc.ServicerContext) -> Any:
        time.sleep(2)
        return pb.TranslateResponse()

    handler.behaviour = slow
    started = time.monotonic()
    with pc.Client(address, timeout=0.3) as client, pytest.raises(pc.DeadlineExceededError):
        client.translate("x", to="fr")
    assert time.monotonic() - started < 1.5


def test_bad_mode_is_rejected_client_side(scripted: tuple[str, Scripted]) -> None:
    with pc.Client(scripted[0]) as client, pytest.raises(ValueError, match="mode"):
        client.summarize("text", mode="creative")
