"""Building blocks of the server interceptors (auth.py, observe.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from polybrief.service.api.status import to_status

Behaviour = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehaviour = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]]


def with_behaviour(handler: grpc.RpcMethodHandler, behaviour: Behaviour) -> grpc.RpcMethodHandler:
    """``handler`` (unary-unary) with ``behaviour`` in place of its own."""
    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def with_stream_behaviour(
    handler: grpc.RpcMethodHandler, behaviour: StreamBehaviour
) -> grpc.RpcMethodHandler:
    """``handler`` (unary-stream) with ``behaviour`` in place of its own."""
    return grpc.unary_stream_rpc_method_handler(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def refusing(handler: grpc.RpcMethodHandler, problem: Exception) -> grpc.RpcMethodHandler:
    """A handler of the same shape as ``handler`` that only aborts with ``problem``'s status
    (computed in the call, so that it carries the call's request id)."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort_with_status(to_status(problem))

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort_with_status(to_status(problem))
        yield  # unreachable: a generator, as the streaming interceptors expect

    options: dict[str, Any] = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(refuse, **options)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, **options)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(refuse, **options)
    return grpc.stream_stream_rpc_method_handler(refuse_stream, **options)


class MethodInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """An interceptor that decides per method: subclasses implement ``wrap``, which sees
    every call's handler (never None) and returns it, changed or not."""

    def wrap(
        self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        raise NotImplementedError

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        return handler if handler is None else self.wrap(handler, handler_call_details)
