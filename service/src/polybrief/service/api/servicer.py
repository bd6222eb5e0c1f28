"""The Polybrief gRPC servicer: decodes, hands plain dataclasses to the engine on a worker
thread (never on the event loop), encodes the result or the mapped error."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeAlias, TypeVar

import grpc
from google.protobuf import message
from polybrief.service.api import convert
from polybrief.service.api.status import to_status
from polybrief.service.api.wire import Undecodable, lenient, serializer
from polybrief.service.context import CallContext
from polybrief.service.engine import Engine
from polybrief.service.errors import InvalidRequest, NotReady, Overloaded, PolybriefError
from polybrief.v1 import polybrief_pb2 as pb

log = logging.getLogger(__name__)

SERVICE_NAME = "polybrief.v1.Polybrief"
Context: TypeAlias = grpc.aio.ServicerContext
T = TypeVar("T")
In = TypeVar("In")
Out = TypeVar("Out")
Req = TypeVar("Req", bound=message.Message)


class PolybriefServicer:
    """Implements polybrief.v1.Polybrief over an Engine.

    Admission control: at most ``max_concurrent_calls`` calls run at once (a call runs
    until its response is sent); one more is refused at once with RESOURCE_EXHAUSTED and
    a RetryInfo, never queued. Calls that
    send no deadline get ``default_deadline_s``.
    """

    def __init__(
        self,
        engine: Engine,
        executor: Executor,
        *,
        max_concurrent_calls: int,
        default_deadline_s: float,
    ) -> None:
        self.engine = engine
        self.executor = executor
        self.max_concurrent_calls = max_concurrent_calls
        self.default_deadline_s = default_deadline_s
        self.ready = False
        self.inflight = 0
        self._recent_seconds = 0.5  # moving average of call time, for RetryInfo

    async def _run(self, context: grpc.aio.ServicerContext, work: Callable[[CallContext], T]) -> T:
        """Runs ``work`` on a request thread with the call's deadline and cancellation."""
        try:
            if not self.ready:
                raise NotReady("the server is starting or shutting down; retry shortly")
            if self.inflight >= self.max_concurrent_calls:
                raise Overloaded(
                    f"{self.inflight} calls running (max_concurrent_calls); retry later",
                    retry_after_s=min(max(self._recent_seconds, 0.05), 5.0),
                )
        except PolybriefError as exc:
            await context.abort_with_status(to_status(exc))
        gone = threading.Event()
        self.inflight += 1

        def finished(_: object) -> None:
            # Runs once the response (or error) has been sent: until then the call is in
            # flight, and a draining server must not cut it.
            gone.set()
            self.inflight -= 1

        context.add_done_callback(finished)
        remaining = context.time_remaining()
        call = CallContext.with_timeout(
            self.default_deadline_s if remaining is None else remaining, gone.is_set
        )
        started = time.monotonic()
        try:
            job = contextvars.copy_context()  # the request id follows the call into logs
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, job.run, work, call)
        except Exception as exc:
            await context.abort_with_status(to_status(exc))
            raise  # unreachable: abort_with_status raises
        finally:
            self._recent_seconds = 0.8 * self._recent_seconds + 0.2 * (time.monotonic() - started)

    async def Summarize(self, request: pb.SummarizeRequest, context: Context) -> Any:
        work = _through(
            convert.summarize_request, self.engine.summarize, convert.summarize_response
        )
        return await self._run(context, work(request))

    async def Translate(self, request: pb.TranslateRequest, context: Context) -> Any:
        work = _through(
            convert.translate_request, self.engine.translate, convert.translate_response
        )
        return await self._run(context, work(request))

    async def DetectLanguage(self, request: pb.DetectLanguageRequest, context: Context) -> Any:
        texts = tuple(request.texts)
        return await self._run(
            context, lambda _: convert.detect_response(self.engine.detect(texts))
        )

    async def ListCapabilities(self, request: pb.ListCapabilitiesRequest, context: Context) -> Any:
        capabilities = self.engine.capabilities
        return await self._run(context, lambda _: convert.capabilities_response(capabilities()))


def _through(
    decode: Callable[[Req], In], run: Callable[[In, CallContext], Out], encode: Callable[[Out], T]
) -> Callable[[Req], Callable[[CallContext], T]]:
    """decode → engine → encode as the work of a call: all of it on the request thread, so
    the event loop only moves bytes."""
    return lambda request: lambda call: encode(run(decode(request), call))


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
