"""Exceptions raised by the client, mapped from gRPC status codes in one place.

PolybriefError                 any failed call (.code: grpc.StatusCode, .details: message)
├── InvalidArgumentError       INVALID_ARGUMENT; .field_violations [(field, description)]
│                              from google.rpc.BadRequest
├── ModelNotFoundError         NOT_FOUND: unknown model id
├── ModelNotInstalledError     FAILED_PRECONDITION; .model and .hint (the command that
│                              installs it) from google.rpc.PreconditionFailure
├── OverloadedError            RESOURCE_EXHAUSTED; .retry_after seconds from
│                              google.rpc.RetryInfo, when given; .quota_violations
│                              from google.rpc.QuotaFailure (an API key over quota)
├── UnavailableError           UNAVAILABLE after the channel's retries (server down,
│                              starting or shutting down), or wait_until_serving timed out
├── DeadlineExceededError      DEADLINE_EXCEEDED: the call's timeout passed
├── UnauthenticatedError       UNAUTHENTICATED
├── PermissionDeniedError      PERMISSION_DENIED
└── ServerError                INTERNAL, UNKNOWN and every other code

``map_rpc_error`` is the only place that turns a ``grpc.RpcError`` (sync) or
``grpc.aio.AioRpcError`` into one of these; both clients use it. Problems with one output
of a successful call are not exceptions: they are ``ItemError`` values on the result.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class PolybriefError(Exception):
    """Base of every error the client raises for a failed call."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        #: The gRPC status code of the failed call.
        self.code = code
        #: The server's (or the channel's) message.
        self.details = details


class InvalidArgumentError(PolybriefError):
    """The request was rejected as invalid; ``field_violations`` names every bad field."""

    def __init__(
        self, code: grpc.StatusCode, details: str, field_violations: list[tuple[str, str]]
    ) -> None:
        super().__init__(code, details)
        #: ``(field, description)`` pairs, e.g. ``("texts[3]", "must not be empty")``.
        self.field_violations = field_violations


class ModelNotFoundError(PolybriefError):
    """A requested model id is not in the server's catalogue."""


class ModelNotInstalledError(PolybriefError):
    """A requested model is in the catalogue but cannot be used (weights not installed).

    ``hint`` is the command that installs it, when the server sent one.
    """

    def __init__(
        self, code: grpc.StatusCode, details: str, hint: str | None, model: str | None = None
    ) -> None:
        super().__init__(code, details)
        self.hint = hint
        self.model = model


class OverloadedError(PolybriefError):
    """The server is overloaded, or the API key is over its quota (``quota_violations``
    then names it); retry after ``retry_after`` seconds when it is set.

    gRPC itself also fails a call with RESOURCE_EXHAUSTED (no ``retry_after``) when a
    message exceeds a size limit, e.g. a reply over the client's 16 MiB receive limit.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        retry_after: float | None,
        quota_violations: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(code, details)
        self.retry_after = retry_after
        #: ``(subject, description)`` pairs from google.rpc.QuotaFailure, e.g.
        #: ``("api_key:newsdesk", "over 600 requests per minute")``; empty when not a quota.
        self.quota_violations = quota_violations or []


class UnavailableError(PolybriefError):
    """The server could not be reached or is not ready (after the channel's retries)."""


class DeadlineExceededError(PolybriefError):
    """The call did not finish within its timeout."""


class UnauthenticatedError(PolybriefError):
    """The server wants (other) credentials, e.g. an API key."""


class PermissionDeniedError(PolybriefError):
    """The credentials are not allowed to make this call."""


class ServerError(PolybriefError):
    """A server-side failure (INTERNAL, UNKNOWN) or any other unexpected status."""


_SIMPLE: dict[grpc.StatusCode, type[PolybriefError]] = {
    grpc.StatusCode.NOT_FOUND: ModelNotFoundError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
}


def _rich_details(call: Any) -> list[Any]:
    """The ``google.rpc.Status`` details packed in the call's trailers, if any."""
    try:
        status = rpc_status.from_call(call)
    except ValueError:  # trailer status disagrees with the call's code/message: ignore it
        return []
    return list(status.details) if status is not None else []


def _unpack(details: list[Any], kind: type[Any]) -> Any | None:
    """The first detail of message type ``kind``, unpacked, or None."""
    for detail in details:
        if detail.Is(kind.DESCRIPTOR):
            message = kind()
            detail.Unpack(message)
            return message
    return None


def map_rpc_error(error: grpc.RpcError) -> PolybriefError:
    """The client exception for a ``grpc.RpcError`` (sync) or ``grpc.aio.AioRpcError``."""
    call: Any = error  # both kinds implement code(), details() and trailing_metadata()
    code: grpc.StatusCode = call.code()
    message: str = call.details() or code.name
    details = _rich_details(call)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        bad = _unpack(details, error_details_pb2.BadRequest)
        fields = [(v.field, v.description) for v in bad.field_violations] if bad else []
        return InvalidArgumentError(code, message, fields)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        failure = _unpack(details, error_details_pb2.PreconditionFailure)
        violation = failure.violations[0] if failure and failure.violations else None
        if violation is None:
            return ModelNotInstalledError(code, message, None)
        hint = violation.description or (
            f"polybrief-server models pull {violation.subject}" if violation.subject else None
        )
        return ModelNotInstalledError(code, message, hint, violation.subject or None)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        retry = _unpack(details, error_details_pb2.RetryInfo)
        delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9 if retry else None
        quota = _unpack(details, error_details_pb2.QuotaFailure)
        violations = [(v.subject, v.description) for v in quota.violations] if quota else []
        return OverloadedError(code, message, delay, violations)
    return _SIMPLE.get(code, ServerError)(code, message)
