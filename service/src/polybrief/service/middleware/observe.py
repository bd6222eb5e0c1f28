"""Per-call observation: a request id (the caller's ``x-request-id`` or a fresh one,
returned in the response's trailing metadata), one structured access-log line, and the
request metrics. It is the outermost interceptor, so calls refused by authentication
are counted and logged too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
from polybrief.service.middleware.auth import input_characters
from polybrief.service.middleware.handlers import (
    MethodInterceptor,
    with_behaviour,
    with_stream_behaviour,
)
from polybrief.service.observability.logs import API_KEY_ID, REQUEST_ID, REQUEST_ID_HEADER
from polybrief.service.observability.metrics import Metrics

log = logging.getLogger("polybrief.access")

_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id(metadata: Any) -> str:
    """The caller's request id when it is well-formed, else a fresh one."""
    for name, value in metadata or ():
        if name == REQUEST_ID_HEADER and isinstance(value, str) and _VALID_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex


def _code_name(code: Any) -> str:
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


class ObservingInterceptor(MethodInterceptor):
    """Request ids, access logs and request metrics for the methods of ``service`` (unary
    and server-streaming)."""

    def __init__(self, service: str, metrics: Metrics | None) -> None:
        self.prefix = f"/{service}/"
        self.metrics = metrics

    def wrap(
        self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        method: str = details.method
        if not method.startswith(self.prefix):
            return handler
        rpc = method[len(self.prefix) :]
        call_id = request_id(details.invocation_metadata)
        if handler.unary_unary is not None:
            unary = handler.unary_unary

            async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
                with self._observing(rpc, call_id, request, context):
                    return await unary(request, context)

            return with_behaviour(handler, observed)
        if handler.unary_stream is not None:
            stream = handler.unary_stream

            async def streamed(
                request: Any, context: grpc.aio.ServicerContext
            ) -> AsyncIterator[Any]:
                with self._observing(rpc, call_id, request, context):
                    async for event in stream(request, context):
                        yield event

            return with_stream_behaviour(handler, streamed)
        return handler

    @contextlib.contextmanager
    def _observing(
        self, rpc: str, call_id: str, request: Any, context: grpc.aio.ServicerContext
    ) -> Iterator[None]:
        """One call's request id, then its access-log line and metrics once it ends."""
        token = REQUEST_ID.set(call_id)
        started = time.perf_counter()
        code = "OK"
        try:
            # trailing, not initial: early headers would commit the call and stop gRPC
            # from retrying it on another server (errors add it in to_status)
            context.set_trailing_metadata(((REQUEST_ID_HEADER, call_id),))
            yield
        except (asyncio.CancelledError, GeneratorExit):
            code = "CANCELLED"
            raise
        except BaseException:
            code = _code_name(context.code())
            raise
        finally:
            self._record(rpc, code, time.perf_counter() - started, request, context)
            REQUEST_ID.reset(token)

    def _record(
        self, rpc: str, code: str, seconds: float, request: Any, context: grpc.aio.ServicerContext
    ) -> None:
        characters = input_characters(request)
        if self.metrics is not None:
            self.metrics.observe_call(rpc, code, seconds, characters)
        log.log(
            logging.ERROR if code in ("INTERNAL", "UNKNOWN") else logging.INFO,
            "%s %s",
            rpc,
            code,
            extra={
                "rpc": rpc,
                "code": code,
                "ms": round(seconds * 1000, 1),
                "characters": characters,
                "api_key": API_KEY_ID.get(),
                "peer": context.peer(),
            },
        )
