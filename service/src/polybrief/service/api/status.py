"""The one table from domain errors to gRPC status codes and rich error details."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from polybrief.service.errors import (
    Cancelled,
    DeadlineExpired,
    InvalidRequest,
    ModelLoadFailed,
    ModelNotFound,
    ModelNotInstalled,
    NotReady,
    OutOfMemory,
    Overloaded,
    PolybriefError,
    QuotaExceeded,
    Unauthenticated,
)
from polybrief.service.observability.logs import REQUEST_ID, REQUEST_ID_HEADER

log = logging.getLogger(__name__)

# Each row's detail builder receives an error of that row's type.
Detail = Callable[[Any], list[any_pb2.Any]]


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


# Status details travel in trailing metadata, which gRPC clients refuse past 8-16 KiB by
# default (the call then fails RESOURCE_EXHAUSTED on their side, hiding the real error).
# A request with many bad items therefore reports the first MAX_VIOLATIONS + 1 of them;
# the last one says how many more there were.
MAX_VIOLATIONS = 20
MAX_DESCRIPTION = 200
MAX_MESSAGE = 1000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bad_request(exc: InvalidRequest) -> list[any_pb2.Any]:
    shown = list(exc.violations[: MAX_VIOLATIONS + 1])
    if len(exc.violations) > MAX_VIOLATIONS + 1:
        last = shown[-1]
        more = len(exc.violations) - len(shown)
        shown[-1] = type(last)(last.field, f"{last.description} (and {more} more not listed)")
    violations = [
        error_details_pb2.BadRequest.FieldViolation(
            field=_clip(v.field, MAX_DESCRIPTION), description=_clip(v.description, MAX_DESCRIPTION)
        )
        for v in shown
    ]
    return [_pack(error_details_pb2.BadRequest(field_violations=violations))]


def _message(exc: PolybriefError) -> str:
    if isinstance(exc, InvalidRequest) and len(exc.violations) > 3:
        shown = "; ".join(f"{v.field}: {v.description}" for v in exc.violations[:3])
        return _clip(f"{shown}; and {len(exc.violations) - 3} more (see BadRequest)", MAX_MESSAGE)
    return _clip(str(exc), MAX_MESSAGE)


def _precondition(exc: ModelNotInstalled) -> list[any_pb2.Any]:
    violation = error_details_pb2.PreconditionFailure.Violation(
        type="MODEL_NOT_INSTALLED", subject=exc.model_id, description=exc.hint
    )
    return [_pack(error_details_pb2.PreconditionFailure(violations=[violation]))]


def _retry_info(seconds: float) -> any_pb2.Any:
    seconds = max(seconds, 0.0)
    delay = duration_pb2.Duration(seconds=int(seconds), nanos=int((seconds % 1) * 1e9))
    return _pack(error_details_pb2.RetryInfo(retry_delay=delay))


def _retry(exc: Overloaded) -> list[any_pb2.Any]:
    return [_retry_info(exc.retry_after_s)]


def _quota(exc: QuotaExceeded) -> list[any_pb2.Any]:
    violation = error_details_pb2.QuotaFailure.Violation(
        subject=f"api_key:{exc.key_id}", description=f"over {exc.limit}"
    )
    return [
        _pack(error_details_pb2.QuotaFailure(violations=[violation])),
        _retry_info(exc.retry_after_s),
    ]


def _none(exc: PolybriefError) -> list[any_pb2.Any]:
    return []


# Order matters only for subclasses; the first matching row wins.
ERROR_TABLE: tuple[tuple[type[PolybriefError], grpc.StatusCode, Detail], ...] = (
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT, _bad_request),
    (ModelNotFound, grpc.StatusCode.NOT_FOUND, _none),
    (ModelNotInstalled, grpc.StatusCode.FAILED_PRECONDITION, _precondition),
    (ModelLoadFailed, grpc.StatusCode.FAILED_PRECONDITION, _none),
    (Overloaded, grpc.StatusCode.RESOURCE_EXHAUSTED, _retry),
    (QuotaExceeded, grpc.StatusCode.RESOURCE_EXHAUSTED, _quota),
    (OutOfMemory, grpc.StatusCode.RESOURCE_EXHAUSTED, _none),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED, _none),
    (NotReady, grpc.StatusCode.UNAVAILABLE, _none),
    (Cancelled, grpc.StatusCode.CANCELLED, _none),
    (DeadlineExpired, grpc.StatusCode.DEADLINE_EXCEEDED, _none),
)


def to_status(exc: BaseException) -> grpc.Status:
    """The status a handler aborts with for ``exc``; unknown errors become INTERNAL, with
    the request id to find the traceback in the server log. The call's request id rides in
    the trailing metadata (never in early headers: those would commit the call, and gRPC
    would no longer retry it on another server)."""
    request_id = REQUEST_ID.get()
    for kind, code, detail in ERROR_TABLE:
        if isinstance(exc, kind):
            return _status(code, _message(exc), detail(exc), request_id)
    log.error("unhandled error", exc_info=exc)
    where = f" (request id {request_id})" if request_id else ""
    return _status(
        grpc.StatusCode.INTERNAL,
        f"internal error; the server log has the details{where}",
        [],
        request_id,
    )


def code_of(exc: BaseException) -> grpc.StatusCode:
    """The status code ``exc`` maps to (for metrics and logs)."""
    for kind, code, _ in ERROR_TABLE:
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.INTERNAL


def _status(
    code: grpc.StatusCode, message: str, details: list[any_pb2.Any], request_id: str
) -> grpc.Status:
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=details)
    converted = rpc_status.to_status(status)
    if not request_id:
        return converted
    metadata = (*converted.trailing_metadata, (REQUEST_ID_HEADER, request_id))
    return converted._replace(trailing_metadata=metadata)
