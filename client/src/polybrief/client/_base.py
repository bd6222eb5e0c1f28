"""What ``Client`` and ``AsyncClient`` share: everything but the I/O.

``BaseClient`` checks the arguments, keeps the targets, deadline and call metadata, and
creates the stubs over the channel its subclass opens (``grpc.Channel`` or
``grpc.aio.Channel``). For every RPC it builds a ``Call``: the stub method, the request
message, the deadline, how the reply is read into a result and what a failure gives.
The public methods (``summarize``, ``translate``, …) are declared once, here, as ``Api``
descriptors over those builders: one signature and one docstring for both clients.
``Client._run`` makes a call blocking, ``AsyncClient._run`` awaits it; both hand failures
to ``Call.failed``, so the deadlines, retries (the channel's) and errors are one code path.
The split is httpx's ``BaseClient`` / ``Client`` / ``AsyncClient``.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import inspect
import time
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

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
from polybrief.v1 import polybrief_pb2_grpc

if TYPE_CHECKING:
    from polybrief.client._async import AsyncClient
    from polybrief.client._client import Client

R = TypeVar("R")
E = TypeVar("E")
P = ParamSpec("P")
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


def _public(
    method: Callable[..., Any], build: Callable[..., Any], returns: str, doc: str | None
) -> Callable[..., Any]:
    """``method`` as the public twin of the call builder ``build``: its name without the
    underscore, its parameters, ``returns`` as the result, ``doc`` as the docstring."""
    functools.update_wrapper(method, build)
    signature = inspect.signature(build)
    method.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
    method.__name__ = build.__name__.lstrip("_")
    method.__doc__ = doc
    return method


class _Declared:
    """A public method of both clients, declared once on ``BaseClient``; class access
    (``help(Client.summarize)``) shows its signature and docs."""

    _method: Callable[..., Any]

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._method.__qualname__ = f"{owner.__name__}.{name}"

    def _bound(self, client: Any) -> Any:
        return self._method if client is None else types.MethodType(self._method, client)


class Api(_Declared, Generic[P, R]):
    """A unary call, over the method that builds its ``Call``: on a ``Client`` it blocks
    and returns the result, on an ``AsyncClient`` it returns an awaitable of it (each
    client's ``_run`` makes the call)."""

    def __init__(self, build: Callable[Concatenate[BaseClient[Any], P], Call[R]]) -> None:
        def method(client: Any, /, *args: Any, **kwargs: Any) -> Any:
            return client._run(build(client, *args, **kwargs))

        answer = str(inspect.signature(build).return_annotation)
        answer = answer.removeprefix("Call[").removesuffix("]")
        self._method = _public(method, build, answer, build.__doc__)

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Callable[..., Any]: ...
    @overload
    def __get__(self, client: AsyncClient, owner: type[Any]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __get__(self, client: Client, owner: type[Any]) -> Callable[P, R]: ...
    def __get__(self, client: Any, owner: type[Any]) -> Any:
        return self._bound(client)


class StreamApi(_Declared, Generic[P, E]):
    """A server-streaming call with the arguments (and request) of the unary ``build``:
    ``rpc`` names the stub's method, ``read`` reads each message into an event. On a
    ``Client`` it returns an iterator of events, on an ``AsyncClient`` an async iterator
    (each client's ``_stream``); the call starts at the first ``next`` and leaving the
    loop early cancels it."""

    def __init__(
        self,
        build: Callable[Concatenate[BaseClient[Any], P], Call[Any]],
        rpc: str,
        read: Callable[[Any], E],
        doc: str,
    ) -> None:
        def method(client: Any, /, *args: Any, **kwargs: Any) -> Any:
            unary = build(client, *args, **kwargs)
            return client._stream(
                Call(getattr(client._stub, rpc), unary.request, unary.timeout, read)
            )

        returns = str(inspect.signature(read).return_annotation).removeprefix("t.")
        self._method = _public(method, build, f"Iterator[{returns}]", doc)
        self._method.__name__ = rpc_name(rpc)

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Callable[..., Any]: ...
    @overload
    def __get__(self, client: AsyncClient, owner: type[Any]) -> Callable[P, AsyncIterator[E]]: ...
    @overload
    def __get__(self, client: Client, owner: type[Any]) -> Callable[P, Iterator[E]]: ...
    def __get__(self, client: Any, owner: type[Any]) -> Any:
        return self._bound(client)


def rpc_name(rpc: str) -> str:
    """The Python name of an RPC: "StreamSummarize" → "stream_summarize"."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in rpc).lstrip("_")


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
        self._fleet = ch.is_fleet(targets)
        self._channel = self._open(grpc_target, credentials, opts)
        self._stub = polybrief_pb2_grpc.PolybriefStub(self._channel)
        self._health_stub = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = ch.auth_metadata(api_key)

    @abc.abstractmethod
    def _open(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None,
        options: list[tuple[str, Any]],
    ) -> ChannelT:
        """The channel to ``target``: secure with ``credentials``, else insecure."""

    def _invoke(self, call: Call[Any], attempt: ReplicaWait) -> Any:
        """Starts one attempt of ``call`` within what is left of its deadline."""
        return call.method(call.request, timeout=attempt.remaining(), metadata=self._metadata)

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
        self,
        text: str,
        *,
        to: Sequence[str] = (),
        source: str | None = None,
        max_words: int | None = None,
        mode: t.SummaryMode = "abstractive",
        model: str | None = None,
        translation_model: str | None = None,
        glossary: t.Glossary | None = None,
        glossary_ignore_case: bool = False,
        mime_type: str | None = None,
        timeout: float | None = None,
    ) -> Call[t.SummarizeResult]:
        """Briefs of ``text``, one per language of ``to`` in order (default: the source's).

        ``source`` is detected when not given; ``max_words`` defaults to the server's (60);
        ``mode`` is "abstractive" or "extractive"; ``model`` / ``translation_model`` pick
        catalogue models instead of the server's routing. ``glossary`` (``{source: target}``
        or ``(source, target)`` pairs; target "" = keep as is) is applied by the briefs'
        translation legs: every term found in the source comes out as the glossary says,
        verbatim (whole words, longest match first; case-insensitively with
        ``glossary_ignore_case``). A brief that cannot be made carries an ``ItemError``
        instead of failing the call; each brief has a ``confidence``, ``warnings`` and its
        ``applied_terms``. ``mime_type`` "text/html" or "text/markdown" briefs the
        document's readable text (default "text/plain"); briefs are plain text.
        """
        request = c.summarize_request(text, to, source, max_words, mode, model, translation_model)
        request.mime_type = mime_type or ""
        c.add_glossary(request, glossary, glossary_ignore_case)
        return self._call(self._stub.Summarize, request, c.summarize_result, timeout)

    def _translate(
        self,
        texts: str | Sequence[str],
        *,
        to: str,
        source: str | None = None,
        model: str | None = None,
        glossary: t.Glossary | None = None,
        glossary_ignore_case: bool = False,
        mime_type: str | None = None,
        timeout: float | None = None,
    ) -> Call[list[t.Translation]]:
        """Translations of ``texts`` into ``to``, one per text, in order.

        A single string is a batch of one: the result is then a one-element list.
        ``source`` is detected per text when not given. ``glossary`` (``{source: target}``
        or ``(source, target)`` pairs; target "" = keep as is): every term found in a text
        comes out as the glossary says, verbatim (whole words, longest match first;
        case-insensitively with ``glossary_ignore_case``). A text that cannot be translated
        carries an ``ItemError`` instead of failing the call; each translation has a
        ``confidence``, ``warnings`` and its ``applied_terms``. ``mime_type``
        "text/html" or "text/markdown" translates documents with their structure kept
        (default "text/plain"; see the proto's ``TranslateRequest.mime_type``).
        """
        request = c.translate_request(texts, to, source, model)
        request.mime_type = mime_type or ""
        c.add_glossary(request, glossary, glossary_ignore_case)
        return self._call(self._stub.Translate, request, c.translate_result, timeout)

    def _detect(
        self, texts: str | Sequence[str], *, timeout: float | None = None
    ) -> Call[list[t.DetectedLanguage]]:
        """The language of each text, in order (a single string gives a one-element list)."""
        request = c.detect_request(texts)
        return self._call(self._stub.DetectLanguage, request, c.detect_result, timeout)

    def _capabilities(self, *, timeout: float | None = None) -> Call[t.Capabilities]:
        """Languages, models (with their state) and limits of the server."""
        request = c.capabilities_request()
        return self._call(self._stub.ListCapabilities, request, c.capabilities_result, timeout)

    def _health(self, service: str = "", *, timeout: float | None = None) -> Call[str]:
        """Standard gRPC health status of ``service`` ("" is the whole server).

        "SERVING", "NOT_SERVING", "UNKNOWN", or "SERVICE_UNKNOWN" for a service the
        server does not know.
        """
        request = c.health_request(service)
        return self._call(
            self._health_stub.Check, request, c.health_status, timeout, _service_unknown
        )

    summarize = Api(_summarize)
    translate = Api(_translate)
    stream_summarize = StreamApi(
        _summarize,
        "StreamSummarize",
        c.summarize_event,
        """``summarize``, streamed: a ``Ready`` brief as soon as each is ready (in
        completion order; ``index`` is its place in ``to``), then one ``SummarizeDone``.

        Same arguments, errors and deadline as ``summarize``: an invalid request raises at
        the first ``next``; a deadline that passes mid-stream raises
        ``DeadlineExceededError`` after the events already yielded. Leaving the loop early
        cancels the call and frees its work on the server.
        """,
    )
    stream_translate = StreamApi(
        _translate,
        "StreamTranslate",
        c.translate_event,
        """``translate``, streamed: a ``Ready`` translation as soon as each is ready
        (in completion order; ``index`` is its place in ``texts``), then one
        ``TranslateDone``. Arguments, errors, deadline and cancellation as
        ``stream_summarize``.
        """,
    )
    detect = Api(_detect)
    capabilities = Api(_capabilities)
    health = Api(_health)


class ReplicaWait:
    """The deadline of one call, and whether it is made again after a failure: on a fleet
    (``ch.is_fleet``), a call that failed with UNAVAILABLE once the channel's own retries
    ran out waits for a replica to be ready and is made again, up to
    ``ch.FLEET_WAIT_ROUNDS`` times within its deadline (see ``_channel``)."""

    def __init__(self, client: BaseClient[Any], timeout: float) -> None:
        self._fleet = client._fleet
        self._deadline = time.monotonic() + timeout
        self._rounds = 0

    def remaining(self) -> float:
        """Seconds left to the call's deadline (a tiny positive number once it passed, so
        that gRPC answers DEADLINE_EXCEEDED itself)."""
        return max(self._deadline - time.monotonic(), 1e-3)

    def wait(self, error: grpc.RpcError) -> float | None:
        """How long to wait for a ready replica before making the call again after
        ``error``, or None when the call is not made again: the error is the answer."""
        if not self._fleet or self._rounds >= ch.FLEET_WAIT_ROUNDS:
            return None
        if error.code() != grpc.StatusCode.UNAVAILABLE:
            return None
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            return None
        self._rounds += 1
        return remaining


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
        check = self._client._health("", timeout=min(5.0, max(remaining, 0.1)))
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
