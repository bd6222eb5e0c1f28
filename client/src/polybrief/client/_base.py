"""What ``Client`` and ``AsyncClient`` share: everything but the I/O.

``BaseClient`` checks the arguments, keeps the targets, deadline and call metadata, and
creates the stubs over the channel its subclass opens (``grpc.Channel`` or
``grpc.aio.Channel``). For every RPC it builds a ``Call``: the stub method, the request
message, the deadline, how the reply is read into a result and what a failure gives.
``Client`` makes a call blocking, ``AsyncClient`` awaits it; both hand failures to
``Call.failed``, so the deadlines, retries (the channel's) and errors are one code path.
The split is httpx's ``BaseClient`` / ``Client`` / ``AsyncClient``.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import grpc
from grpc_health.v1 import health_pb2_grpc
from polybrief.client import _channel as ch
from polybrief.client import _convert as c
from polybrief.client import _types as t
from polybrief.client._errors import (
    DeadlineExceededError,
    ModelNotFoundError,
    PolybriefError,
    UnavailableError,
    map_rpc_error,
)
from polybrief.v1 import polybrief_pb2 as pb
from polybrief.v1 import polybrief_pb2_grpc

R = TypeVar("R")
ChannelT = TypeVar("ChannelT")

#: The last answer of a wait that never got one.
NO_ANSWER = "none"


@dataclasses.dataclass(frozen=True)
class Call(Generic[R]):
    """One unary call, ready to be made by either client."""

    #: The stub's multi-callable (sync or asyncio).
    method: Callable[..., Any]
    request: Any
    #: Deadline in seconds.
    timeout: float
    #: Reads the reply message into the result.
    read: Callable[[Any], R]
    #: What a failure answers instead of raising; None (or no ``recover``) raises it.
    recover: Callable[[PolybriefError], R | None] | None = None

    def failed(self, error: grpc.RpcError) -> R:
        """The answer to a failed call, or its ``PolybriefError`` raised."""
        mapped = map_rpc_error(error)
        answer = self.recover(mapped) if self.recover is not None else None
        if answer is None:
            raise mapped from error
        return answer


def _service_unknown(error: PolybriefError) -> str | None:
    """NOT_FOUND from Health.Check: an unknown service name, an answer and no error."""
    return "SERVICE_UNKNOWN" if isinstance(error, ModelNotFoundError) else None


class BaseClient(abc.ABC, Generic[ChannelT]):
    """The state and the calls of a client; subclasses open the channel and make calls."""

    def __init__(
        self,
        target: str | Sequence[str] = ch.DEFAULT_TARGET,
        *,
        timeout: float = ch.DEFAULT_TIMEOUT,
        credentials: grpc.ChannelCredentials | None = None,
        api_key: str | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        grpc_target, targets, opts = ch.channel_args(target, options)
        #: The targets as given, in order.
        self.targets = targets
        #: The targets as one string (comma-separated when there are several).
        self.target = ",".join(targets)
        self.timeout = timeout
        self._channel = self._open(grpc_target, credentials, opts)
        self._stub = polybrief_pb2_grpc.PolybriefStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = ch.auth_metadata(api_key)

    @abc.abstractmethod
    def _open(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None,
        options: list[tuple[str, Any]],
    ) -> ChannelT:
        """The channel to ``target``: secure with ``credentials``, else insecure."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r}, timeout={self.timeout})"

    def _call(
        self,
        method: Callable[..., Any],
        request: Any,
        read: Callable[[Any], R],
        timeout: float | None,
        recover: Callable[[PolybriefError], R | None] | None = None,
    ) -> Call[R]:
        """A call with the client's deadline unless ``timeout`` is given."""
        return Call(method, request, self.timeout if timeout is None else timeout, read, recover)

    def _summarize(
        self, request: pb.SummarizeRequest, timeout: float | None
    ) -> Call[t.SummarizeResult]:
        return self._call(self._stub.Summarize, request, c.summarize_result, timeout)

    def _translate(
        self, request: pb.TranslateRequest, timeout: float | None
    ) -> Call[list[t.Translation]]:
        return self._call(self._stub.Translate, request, c.translate_result, timeout)

    def _detect(
        self, texts: str | Sequence[str], timeout: float | None
    ) -> Call[list[t.DetectedLanguage]]:
        request = c.detect_request(texts)
        return self._call(self._stub.DetectLanguage, request, c.detect_result, timeout)

    def _capabilities(self, timeout: float | None) -> Call[t.Capabilities]:
        request = c.capabilities_request()
        return self._call(self._stub.ListCapabilities, request, c.capabilities_result, timeout)

    def _check(self, service: str, timeout: float | None) -> Call[str]:
        request = c.health_request(service)
        return self._call(self._health.Check, request, c.health_status, timeout, _service_unknown)


class ServingWait:
    """One ``wait_until_serving``: health checks of the whole server until one answers
    SERVING or ``timeout`` seconds pass, pausing 0.2 s between them."""

    def __init__(self, client: BaseClient[Any], timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._last = NO_ANSWER

    def next_poll(self) -> Call[str] | None:
        """The next health check, None once the time is up. It answers the status, or
        what its failure says instead of raising it."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            return None
        check = self._client._check("", min(5.0, max(remaining, 0.1)))
        return dataclasses.replace(check, recover=self._failed)

    def _failed(self, error: PolybriefError) -> str:
        """What a failed poll says; a poll cut short by the wait's own end (deadline
        exceeded) does not hide the more telling answer of the poll before it."""
        if (answer := _service_unknown(error)) is not None:
            return answer
        if isinstance(error, DeadlineExceededError) and self._last != NO_ANSWER:
            return self._last
        return f"{type(error).__name__}: {error.details}"

    def serving(self, answer: str) -> bool:
        """Keeps the poll's answer; whether it is SERVING."""
        self._last = answer
        return answer == "SERVING"

    def pause(self) -> float:
        """Seconds to wait before the next poll."""
        return min(0.2, max(self._deadline - time.monotonic(), 0))

    def not_serving(self) -> UnavailableError:
        """The error that ends an unsuccessful wait."""
        message = f"{self._client.target} not serving after {self._timeout:g}s"
        return UnavailableError(
            grpc.StatusCode.UNAVAILABLE, f"{message} (last answer: {self._last})"
        )
