"""The Polybrief gRPC servicer: decodes, hands plain dataclasses to the engine on a worker
thread (never on the event loop), encodes the result or the mapped error."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeAlias, TypeVar

import grpc
from google.protobuf import message
from polybrief.service.api import convert
from polybrief.service.api.status import to_status
from polybrief.service.api.wire import Undecodable, lenient, serializer
from polybrief.service.context import CallContext, CancelScope
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

    async def _admit(self, context: Context) -> CallContext:
        """Admits the call (or aborts it: not ready, too many calls) and gives its
        CallContext: the deadline (the server's default when the caller sent none), and a
        CancelScope cancelled once the call is over, so that a client that cancels or
        goes away frees the call's queued work at once."""
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
        scope = CancelScope()
        self.inflight += 1
        started = time.monotonic()

        def finished(_: object) -> None:
            # Runs once the response (or error) has been sent: until then the call is in
            # flight, and a draining server must not cut it.
            scope.cancel()
            self.inflight -= 1
            self._recent_seconds = 0.8 * self._recent_seconds + 0.2 * (time.monotonic() - started)

        context.add_done_callback(finished)
        remaining = context.time_remaining()
        return CallContext.of_scope(
            self.default_deadline_s if remaining is None else remaining, scope
        )

    async def _run(self, context: Context, work: Callable[[CallContext], T]) -> T:
        """Runs ``work`` on a request thread with the call's deadline and cancellation."""
        call = await self._admit(context)
        try:
            job = contextvars.copy_context()  # the request id follows the call into logs
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, job.run, work, call)
        except Exception as exc:
            await context.abort_with_status(to_status(exc))
            raise  # unreachable: abort_with_status raises

    async def _stream(
        self, context: Context, events: Callable[[CallContext], Iterator[T]]
    ) -> AsyncIterator[T]:
        """Runs ``events`` on a request thread and sends each as it comes; an error ends
        the stream with its status after the messages already sent."""
        call = await self._admit(context)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[T | None, BaseException | None]] = asyncio.Queue()

        def produce(call: CallContext) -> None:
            def put(item: T | None, error: BaseException | None) -> None:
                loop.call_soon_threadsafe(queue.put_nowait, (item, error))

            try:
                for event in events(call):
                    put(event, None)
            except BaseException as exc:
                put(None, exc)
            else:
                put(None, None)

        job = contextvars.copy_context()
        producing = loop.run_in_executor(self.executor, job.run, produce, call)
        while True:
            item, error = await queue.get()
            if error is not None:
                await context.abort_with_status(to_status(error))
            if item is None:
                break
            yield item
        await producing

    def handler(
        self,
        decode: Callable[[Req], In],
        run: Callable[[In, CallContext], Any],
        encode: Callable[[Any], Any],
        *,
        stream: bool = False,
    ) -> Any:
        """The handler of an RPC: decode → engine → encode, all on a request thread (the
        event loop only moves bytes); undecodable input is INVALID_ARGUMENT. ``stream``:
        ``run`` yields events, each encoded and sent as it comes."""

        async def unary(request: Any, context: Context) -> Any:
            await _refuse_undecodable(request, context)
            return await self._run(context, lambda call: encode(run(decode(request), call)))

        async def streaming(request: Any, context: Context) -> AsyncIterator[Any]:
            await _refuse_undecodable(request, context)
            events = self._stream(context, lambda call: map(encode, run(decode(request), call)))
            async for event in events:
                yield event

        return streaming if stream else unary


async def _refuse_undecodable(request: Any, context: Context) -> None:
    if isinstance(request, Undecodable):
        await context.abort_with_status(to_status(InvalidRequest(request.violations)))


def generic_handler(servicer: PolybriefServicer) -> grpc.GenericRpcHandler:
    """The methods of polybrief.v1.Polybrief, with lenient decoding (bad UTF-8 →
    INVALID_ARGUMENT naming the field)."""
    engine, handler = servicer.engine, servicer.handler
    methods: dict[str, tuple[type[message.Message], Any]] = {
        "Summarize": (
            pb.SummarizeRequest,
            handler(
                convert.summarize_request, _late(engine, "summarize"), convert.summarize_response
            ),
        ),
        "Translate": (
            pb.TranslateRequest,
            handler(
                convert.translate_request, _late(engine, "translate"), convert.translate_response
            ),
        ),
        "DetectLanguage": (
            pb.DetectLanguageRequest,
            handler(_texts, lambda texts, _: engine.detect(texts), convert.detect_response),
        ),
        "ListCapabilities": (
            pb.ListCapabilitiesRequest,
            handler(_nothing, lambda _, __: engine.capabilities(), convert.capabilities_response),
        ),
    }
    streams: dict[str, tuple[type[message.Message], Any]] = {
        "StreamSummarize": (
            pb.SummarizeRequest,
            handler(
                convert.summarize_request,
                _late(engine, "stream_summarize"),
                convert.summarize_event,
                stream=True,
            ),
        ),
        "StreamTranslate": (
            pb.TranslateRequest,
            handler(
                convert.translate_request,
                _late(engine, "stream_translate"),
                convert.translate_event,
                stream=True,
            ),
        ),
    }
    options = {"response_serializer": serializer}
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(fn, request_deserializer=lenient(kind), **options)
        for name, (kind, fn) in methods.items()
    }
    handlers.update(
        (
            name,
            grpc.unary_stream_rpc_method_handler(fn, request_deserializer=lenient(kind), **options),
        )
        for name, (kind, fn) in streams.items()
    )
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)


def _late(engine: Engine, method: str) -> Callable[[Any, CallContext], Any]:
    """``engine.<method>``, looked up at each call (so that it can be wrapped later)."""

    def call(request: Any, context: CallContext) -> Any:
        return getattr(engine, method)(request, context)

    return call


def _texts(request: pb.DetectLanguageRequest) -> tuple[str, ...]:
    return tuple(request.texts)


def _nothing(request: pb.ListCapabilitiesRequest) -> None:
    return None
