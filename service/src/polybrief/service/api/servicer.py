"""The Polybrief gRPC servicer: decodes, hands plain dataclasses to the engine on a worker
thread (never on the event loop), encodes the result or the mapped error."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

import grpc
from google.protobuf import message
from polybrief.service.api import convert
from polybrief.service.api.status import to_status
from polybrief.service.api.wire import Undecodable, lenient, serializer
from polybrief.service.context import CallContext
from polybrief.service.engine import Engine
from polybrief.service.errors import InvalidRequest, NotReady
from polybrief.v1 import polybrief_pb2 as pb

log = logging.getLogger(__name__)

SERVICE_NAME = "polybrief.v1.Polybrief"
T = TypeVar("T")
Req = TypeVar("Req", bound=message.Message)


class PolybriefServicer:
    """Implements polybrief.v1.Polybrief over an Engine."""

    def __init__(self, engine: Engine, executor: Executor) -> None:
        self.engine = engine
        self.executor = executor
        self.ready = False

    async def _run(self, context: grpc.aio.ServicerContext, work: Callable[[CallContext], T]) -> T:
        """Runs ``work`` on a request thread with the call's deadline and cancellation."""
        gone = threading.Event()
        context.add_done_callback(lambda _: gone.set())
        call = CallContext.with_timeout(context.time_remaining(), gone.is_set)
        try:
            if not self.ready:
                raise NotReady("the server is starting or shutting down; retry shortly")
            return await asyncio.get_running_loop().run_in_executor(self.executor, work, call)
        except Exception as exc:
            await context.abort_with_status(to_status(exc))
            raise  # unreachable: abort_with_status raises

    async def Summarize(
        self, request: pb.SummarizeRequest, context: grpc.aio.ServicerContext
    ) -> pb.SummarizeResponse:
        domain = convert.summarize_request(request)
        result = await self._run(context, lambda call: self.engine.summarize(domain, call))
        return convert.summarize_response(result)

    async def Translate(
        self, request: pb.TranslateRequest, context: grpc.aio.ServicerContext
    ) -> pb.TranslateResponse:
        domain = convert.translate_request(request)
        result = await self._run(context, lambda call: self.engine.translate(domain, call))
        return convert.translate_response(result)

    async def DetectLanguage(
        self, request: pb.DetectLanguageRequest, context: grpc.aio.ServicerContext
    ) -> pb.DetectLanguageResponse:
        texts = tuple(request.texts)
        result = await self._run(context, lambda call: self.engine.detect(texts))
        return convert.detect_response(result)

    async def ListCapabilities(
        self, request: pb.ListCapabilitiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCapabilitiesResponse:
        result = await self._run(context, lambda call: self.engine.capabilities())
        return convert.capabilities_response(result)


def _guarded(
    handler: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]],
) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]:
    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, Undecodable):
            await context.abort_with_status(to_status(InvalidRequest(request.violations)))
        return await handler(request, context)

    return call


def generic_handler(servicer: PolybriefServicer) -> grpc.GenericRpcHandler:
    """Method handlers with lenient decoding (bad UTF-8 → INVALID_ARGUMENT naming the field)."""
    methods: dict[str, tuple[Any, type[message.Message]]] = {
        "Summarize": (servicer.Summarize, pb.SummarizeRequest),
        "Translate": (servicer.Translate, pb.TranslateRequest),
        "DetectLanguage": (servicer.DetectLanguage, pb.DetectLanguageRequest),
        "ListCapabilities": (servicer.ListCapabilities, pb.ListCapabilitiesRequest),
    }
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            _guarded(fn), request_deserializer=lenient(kind), response_serializer=serializer
        )
        for name, (fn, kind) in methods.items()
    }
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)
