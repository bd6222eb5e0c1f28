"""Channel settings shared by ``Client`` and ``AsyncClient``: retries, limits, metadata.

Retries are done by gRPC itself, configured through the service config: a call that
fails with UNAVAILABLE (server restarting, not ready, connection refused) is tried up to
4 times in all, with exponential backoff from 0.1 s up to 2 s, within the call's deadline.
That covers every method of ``polybrief.v1.Polybrief`` and of ``grpc.health.v1.Health``.

All four polybrief RPCs are retried, TranslateText included: they are idempotent (the same
request gives the same answer and changes nothing on the server), so a retry can at
worst repeat work. Google Cloud Translation v3 makes the other choice and does not retry
``TranslateText`` (it is billed per character); polybrief has no such cost. Other codes
(DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, …) are not retried: they are the caller's to
handle, with ``OverloadedError.retry_after`` as a hint.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from polybrief.client._errors import DeadlineExceededError, PolybriefError

DEFAULT_TARGET = "localhost:50051"
DEFAULT_TIMEOUT = 30.0
SERVICE = "polybrief.v1.Polybrief"
HEALTH_SERVICE = "grpc.health.v1.Health"
MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024
NO_ANSWER = "none"

RETRY_POLICY: dict[str, Any] = {
    "maxAttempts": 4,
    "initialBackoff": "0.1s",
    "maxBackoff": "2s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{"service": SERVICE}, {"service": HEALTH_SERVICE}],
                "retryPolicy": RETRY_POLICY,
            }
        ]
    }
)
CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.service_config", SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
    ("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES),
)


def channel_options(extra: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The client's channel options, where an ``extra`` option replaces a default of the
    same name (gRPC itself would keep the first of two)."""
    merged = dict(CHANNEL_OPTIONS)
    merged.update(extra)
    return list(merged.items())


def auth_metadata(api_key: str | None) -> tuple[tuple[str, str], ...]:
    """``authorization: Bearer <key>`` call metadata, or none without a key."""
    return (("authorization", f"Bearer {api_key}"),) if api_key else ()


def poll_timeout(remaining: float) -> float:
    """Deadline of one health check while waiting ``remaining`` seconds for SERVING."""
    return min(5.0, max(remaining, 0.1))


def last_answer(previous: str, error: PolybriefError) -> str:
    """What a failed health poll says; a poll cut short by the wait's own end (deadline
    exceeded) does not hide the more telling answer of the poll before it."""
    if isinstance(error, DeadlineExceededError) and previous != NO_ANSWER:
        return previous
    return f"{type(error).__name__}: {error.details}"


def not_serving_message(target: str, timeout: float, last: str) -> str:
    """The message of the UnavailableError that ends an unsuccessful wait."""
    return f"{target} not serving after {timeout:g}s (last answer: {last})"
