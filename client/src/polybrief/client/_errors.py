"""Exceptions raised by the client, mapped from gRPC status codes in one place.

PolybriefError                 any failed call (.code, .details)
├── InvalidArgumentError       INVALID_ARGUMENT; .field_violations [(field, description)]
├── ModelNotFoundError         NOT_FOUND: unknown model id
├── ModelNotInstalledError     FAILED_PRECONDITION; .hint: the command that installs it
├── OverloadedError            RESOURCE_EXHAUSTED; .retry_after seconds, when given
├── UnavailableError           UNAVAILABLE (after the channel's retries) or not ready
├── DeadlineExceededError      DEADLINE_EXCEEDED
├── UnauthenticatedError       UNAUTHENTICATED
├── PermissionDeniedError      PERMISSION_DENIED
└── ServerError                INTERNAL, UNKNOWN and anything else
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
        self.code = code
        self.details = details


class InvalidArgumentError(PolybriefError):
    def __init__(
        self, code: grpc.StatusCode, details: str, field_violations: list[tuple[str, str]]
    ) -> None:
        super().__init__(code, details)
        self.field_violations = field_violations


class ModelNotFoundError(PolybriefError):
    pass


class ModelNotInstalledError(PolybriefError):
    def __init__(self, code: grpc.StatusCode, details: str, hint: str | None) -> None:
        super().__init__(code, details)
        self.hint = hint


class OverloadedError(PolybriefError):
    def __init__(self, code: grpc.StatusCode, details: str, retry_after: float | None) -> None:
        super().__init__(code, details)
        self.retry_after = retry_after


class UnavailableError(PolybriefError):
    pass


class DeadlineExceededError(PolybriefError):
    pass


class UnauthenticatedError(PolybriefError):
    pass


class PermissionDeniedError(PolybriefError):
    pass


class ServerError(PolybriefError):
    pass


_SIMPLE: dict[grpc.StatusCode, type[PolybriefError]] = {
    grpc.StatusCode.NOT_FOUND: ModelNotFoundError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
}


def _details(error: Any) -> list[Any]:
    try:
        status = rpc_status.from_call(error)
    except ValueError:  # message and status disagree: ignore the rich details
        return []
    return list(status.details) if status is not None else []


def _unpack(details: list[Any], kind: type[Any]) -> Any | None:
    for detail in details:
        if detail.Is(kind.DESCRIPTOR):
            message = kind()
            detail.Unpack(message)
            return message
    return None


def map_rpc_error(error: Any) -> PolybriefError:
    """The client exception for a ``grpc.RpcError`` (sync) or ``grpc.aio.AioRpcError``."""
    code: grpc.StatusCode = error.code()
    message: str = error.details() or code.name
    details = _details(error)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        bad = _unpack(details, error_details_pb2.BadRequest)
        fields = [(v.field, v.description) for v in bad.field_violations] if bad else []
        return InvalidArgumentError(code, message, fields)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        failure = _unpack(details, error_details_pb2.PreconditionFailure)
        hint = failure.violations[0].description if failure and failure.violations else None
        return ModelNotInstalledError(code, message, hint)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        retry = _unpack(details, error_details_pb2.RetryInfo)
        delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9 if retry else None
        return OverloadedError(code, message, delay)
    return _SIMPLE.get(code, ServerError)(code, message)
