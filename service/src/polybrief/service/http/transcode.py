"""JSON in, the RPC over the process's own gRPC channel, JSON (or Server-Sent Events) out.

Each rule of ``rules`` becomes one ASGI endpoint. It reads the body (at most the gRPC
receive limit), parses it into the request message with ``json_format`` (unknown fields
are refused, so a misspelt field is a 400, not silently ignored), calls the RPC with the
caller's ``Authorization``, request id and ``grpc-timeout``, and writes the answer in the
canonical proto3 JSON mapping (every field printed, zeros included). A failed call
becomes its ``google.rpc.Status`` as JSON with the HTTP code of ``codes``; a client that
goes away cancels the call, which frees its queued work at once.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from polybrief.service.http.codes import grpc_code, http_status, retry_after
from polybrief.service.http.rules import Rule
from polybrief.service.middleware.observe import request_id
from polybrief.service.observability.logs import REQUEST_ID_HEADER
from starlette.types import Message as AsgiMessage
from starlette.types import Receive, Scope, Send

STATUS_DETAILS = "grpc-status-details-bin"
# grpc-timeout, as gRPC (and grpc-gateway) write it: an integer and a unit
_TIMEOUT = re.compile(r"([0-9]{1,8})([HMSmun])")
_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"


def to_json(message: Message) -> bytes:
    """The canonical proto3 JSON of ``message``, fields with zero values included."""
    data = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class HttpError(Exception):
    """A request the HTTP layer itself refuses (before any RPC): its Status and code."""

    def __init__(self, http: int, code: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.http = http
        self.status = status_pb2.Status(code=code, message=message)
        if field is not None:
            violation = error_details_pb2.BadRequest.FieldViolation(
                field=field, description=message
            )
            self.status.details.add().Pack(
                error_details_pb2.BadRequest(field_violations=[violation])
            )


class _Gone(Exception):
    """The client disconnected before its request was read whole."""


def status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status the server sent (details included), or one built from the code."""
    for key, value in error.trailing_metadata() or ():
        if key == STATUS_DETAILS and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    return status_pb2.Status(code=error.code().value[0], message=error.details() or "")


def _trailer(metadata: Any, name: str) -> str | None:
    for key, value in metadata or ():
        if key == name and isinstance(value, str):
            return value
    return None


def parse_timeout(value: str | None) -> float | None:
    """Seconds from a ``grpc-timeout`` header ("30S", "500m"); None when absent."""
    if value is None:
        return None
    match = _TIMEOUT.fullmatch(value.strip())
    if match is None:
        raise HttpError(
            400, code_pb2.INVALID_ARGUMENT, "grpc-timeout: expected digits and a unit (H M S m u n)"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


class Endpoint:
    """The ASGI endpoint of one rule (unary JSON or a Server-Sent Events stream)."""

    def __init__(self, rule: Rule, channel: grpc.aio.Channel, max_body: int) -> None:
        self.rule = rule
        self.max_body = max_body
        self.request_class = rule.request_class()
        response = rule.response_class()
        self.call: Callable[..., Any]
        if rule.streaming:
            self.call = channel.unary_stream(
                rule.rpc,
                request_serializer=self.request_class.SerializeToString,
                response_deserializer=response.FromString,
            )
        else:
            self.call = channel.unary_unary(
                rule.rpc,
                request_serializer=self.request_class.SerializeToString,
                response_deserializer=response.FromString,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        rid = request_id([(REQUEST_ID_HEADER, headers.get(REQUEST_ID_HEADER, ""))])
        try:
            message = await self._request(scope, receive, headers)
            timeout = parse_timeout(headers.get("grpc-timeout"))
        except HttpError as refused:
            await send_status(send, refused.status, rid, http=refused.http)
            return
        except _Gone:
            return
        metadata = [(REQUEST_ID_HEADER, rid)]
        if "authorization" in headers:
            metadata.append(("authorization", headers["authorization"]))
        call = self.call(message, metadata=metadata, timeout=timeout)
        watcher = asyncio.ensure_future(_cancel_on_disconnect(receive, call))
        try:
            if self.rule.streaming:
                await _stream(call, send, rid)
            else:
                await _unary(call, send, rid)
        except asyncio.CancelledError:
            if not call.cancelled():
                raise
            # the client went away: the call is cancelled, nobody to answer
        finally:
            watcher.cancel()

    async def _request(self, scope: Scope, receive: Receive, headers: dict[str, str]) -> Message:
        message = self.request_class()
        if self.rule.body == "":
            query = scope.get("query_string", b"").decode("latin-1")
            data: Any = _query_fields(query)
        else:
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != JSON_TYPE:
                raise HttpError(
                    415, code_pb2.INVALID_ARGUMENT, f"Content-Type must be {JSON_TYPE}", ""
                )
            body = await _read_body(receive, headers, self.max_body)
            try:
                data = json.loads(body.decode("utf-8"))
            except UnicodeDecodeError:
                raise HttpError(400, code_pb2.INVALID_ARGUMENT, "body is not UTF-8", "") from None
            except json.JSONDecodeError as bad:
                raise HttpError(
                    400, code_pb2.INVALID_ARGUMENT, f"body is not JSON: {bad}", ""
                ) from None
        if not isinstance(data, dict):
            raise HttpError(400, code_pb2.INVALID_ARGUMENT, "body must be a JSON object", "")
        try:
            json_format.ParseDict(data, message)
        except json_format.ParseError as bad:
            raise HttpError(400, code_pb2.INVALID_ARGUMENT, str(bad), _field_of(str(bad))) from None
        return message


def _field_of(error: str) -> str:
    """The field a json_format ParseError names ('... has no field named "x"', 'Failed
    to parse targetLanguages field: ...'), else "" (the body)."""
    match = re.search(r'no field named "([^"]+)"', error) or re.search(
        r"Failed to parse (\w+) field", error
    )
    return match.group(1) if match else ""


def _query_fields(query: str) -> dict[str, Any]:
    """Query parameters as request fields (repeated when given more than once)."""
    from urllib.parse import parse_qsl

    fields: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in fields:
            previous = fields[key]
            fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[key] = value
    return fields


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    too_large = HttpError(
        413,
        code_pb2.RESOURCE_EXHAUSTED,
        f"request body over the receive limit ({limit} bytes, max_receive_message_bytes)",
    )
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _cancel_on_disconnect(receive: Receive, call: Any) -> None:
    """Cancels ``call`` when the HTTP client goes away (its work is then dropped)."""
    while True:
        message: AsgiMessage = await receive()
        if message["type"] == "http.disconnect":
            call.cancel()
            return


async def _start(
    send: Send, http: int, content_type: str, rid: str, extra: Iterable[tuple[str, str]] = ()
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (REQUEST_ID_HEADER.encode(), rid.encode("latin-1")),
        *((k.encode(), v.encode("latin-1")) for k, v in extra),
    ]
    await send({"type": "http.response.start", "status": http, "headers": headers})


async def send_status(
    send: Send, status: status_pb2.Status, rid: str, *, http: int | None = None
) -> None:
    """A google.rpc.Status as the whole JSON response (the HTTP code from its gRPC code)."""
    code = grpc_code(status.code)
    extra = []
    delay = retry_after(status)
    if delay is not None:
        extra.append(("retry-after", str(delay)))
    if code == grpc.StatusCode.UNAUTHENTICATED:
        extra.append(("www-authenticate", 'Bearer realm="polybrief"'))
    body = to_json(status)
    extra.append(("content-length", str(len(body))))
    await _start(send, http or http_status(code), f"{JSON_TYPE}; charset=utf-8", rid, extra)
    await send({"type": "http.response.body", "body": body})


async def _failed(send: Send, failed: grpc.aio.AioRpcError, rid: str) -> None:
    """The failed call's Status, under the request id the server used."""
    used = _trailer(failed.trailing_metadata(), REQUEST_ID_HEADER) or rid
    await send_status(send, status_of(failed), used)


async def _unary(call: Any, send: Send, rid: str) -> None:
    try:
        response = await call
    except grpc.aio.AioRpcError as failed:
        await _failed(send, failed, rid)
        return
    trailers = await call.trailing_metadata()
    used = _trailer(trailers, REQUEST_ID_HEADER) or rid
    body = to_json(response)
    length = [("content-length", str(len(body)))]
    await _start(send, 200, f"{JSON_TYPE}; charset=utf-8", used, length)
    await send({"type": "http.response.body", "body": body})


def sse(event: str, data: bytes, event_id: int | None = None) -> bytes:
    """One Server-Sent Event (``data`` is one line of JSON)."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head.encode() + b"data: " + data + b"\n\n"


async def _stream(call: Any, send: Send, rid: str) -> None:
    """The first event decides the HTTP code: a request refused before any event is an
    ordinary JSON error; after it, each event is one SSE (named after the event's
    oneof: ``brief``/``translation``, then ``done``), and an error ends the stream with
    an ``error`` event carrying the google.rpc.Status."""
    try:
        first = await call.read()
    except grpc.aio.AioRpcError as failed:
        await _failed(send, failed, rid)
        return
    await _start(
        send,
        200,
        SSE_TYPE,
        rid,
        [("cache-control", "no-cache"), ("x-accel-buffering", "no")],
    )
    sent = 0
    event = first
    while event is not grpc.aio.EOF:
        name = event.WhichOneof("event") or "event"
        chunk = sse(name, to_json(event), sent)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        sent += 1
        try:
            event = await call.read()
        except grpc.aio.AioRpcError as failed:
            chunk = sse("error", to_json(status_of(failed)))
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            break
    await send({"type": "http.response.body", "body": b""})
