"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2_grpc
from polybrief.client import _channel as ch
from polybrief.client import _convert as c
from polybrief.client import _types as t
from polybrief.client._errors import ModelNotFoundError, PolybriefError, UnavailableError
from polybrief.client._errors import map_rpc_error as _map
from polybrief.v1 import polybrief_pb2_grpc


class Client:
    """A blocking polybrief client that owns its channel; use it as a context manager.

    >>> with Client("localhost:50051", timeout=60) as client:
    ...     result = client.summarize(article, to=["en", "fr"])

    ``target`` is one server, "host:port" (or any gRPC target URI), or several for
    failover: ``Client(["10.0.0.1:50051", "10.0.0.2:50051"])`` opens one channel over
    all of their addresses; it uses the first server that accepts a connection, and when
    that one dies or shuts down, the call that failed with UNAVAILABLE is retried on the
    next (host names in a list are resolved once, here; see ``_channel``).

    ``timeout`` (seconds) is the deadline of every call unless a call passes its own
    ``timeout=``; calls are never unbounded. ``credentials`` makes the channel secure:
    ``tls_credentials(ca, cert=..., key=...)`` builds them from PEM files (TLS, or mutual
    TLS with a client certificate); with several targets, every server's certificate must
    be valid for the first target's host name. ``api_key`` is sent as
    ``authorization: Bearer <key>`` metadata; ``options`` are extra gRPC channel options.
    The channel retries UNAVAILABLE (see ``_channel``). Failed calls raise
    ``PolybriefError`` subclasses; ``health`` asks the server the channel is using.
    """

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
        self._channel = (
            grpc.secure_channel(grpc_target, credentials, options=opts)
            if credentials is not None
            else grpc.insecure_channel(grpc_target, options=opts)
        )
        self._stub = polybrief_pb2_grpc.PolybriefStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = ch.auth_metadata(api_key)

    def __repr__(self) -> str:
        return f"Client({self.target!r}, timeout={self.timeout})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel; calls made afterwards fail."""
        self._channel.close()

    def _call(self, method: Callable[..., Any], request: Any, timeout: float | None) -> Any:
        deadline = self.timeout if timeout is None else timeout
        try:
            return method(request, timeout=deadline, metadata=self._metadata)
        except grpc.RpcError as error:
            raise _map(error) from error

    def summarize(
        self,
        text: str,
        *,
        to: Sequence[str] = (),
        source: str | None = None,
        max_words: int | None = None,
        mode: t.SummaryMode = "abstractive",
        model: str | None = None,
        translation_model: str | None = None,
        timeout: float | None = None,
    ) -> t.SummarizeResult:
        """Briefs of ``text``, one per language of ``to`` in order (default: the source's).

        ``source`` is detected when not given; ``max_words`` defaults to the server's (60);
        ``mode`` is "abstractive" or "extractive"; ``model`` / ``translation_model`` pick
        catalogue models instead of the server's routing. A brief that cannot be made
        carries an ``ItemError`` instead of failing the call.
        """
        request = c.summarize_request(text, to, source, max_words, mode, model, translation_model)
        return c.summarize_result(self._call(self._stub.Summarize, request, timeout))

    def translate(
        self,
        texts: str | Sequence[str],
        *,
        to: str,
        source: str | None = None,
        model: str | None = None,
        timeout: float | None = None,
    ) -> list[t.Translation]:
        """Translations of ``texts`` into ``to``, one per text, in order.

        A single string is a batch of one: the result is then a one-element list.
        ``source`` is detected per text when not given. A text that cannot be translated
        carries an ``ItemError`` instead of failing the call.
        """
        request = c.translate_request(texts, to, source, model)
        return c.translate_result(self._call(self._stub.Translate, request, timeout))

    def detect(
        self, texts: str | Sequence[str], *, timeout: float | None = None
    ) -> list[t.DetectedLanguage]:
        """The language of each text, in order (a single string gives a one-element list)."""
        request = c.detect_request(texts)
        return c.detect_result(self._call(self._stub.DetectLanguage, request, timeout))

    def capabilities(self, *, timeout: float | None = None) -> t.Capabilities:
        """Languages, models (with their state) and limits of the server."""
        request = c.capabilities_request()
        return c.capabilities_result(self._call(self._stub.ListCapabilities, request, timeout))

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """Standard gRPC health status of ``service`` ("" is the whole server).

        "SERVING", "NOT_SERVING", "UNKNOWN", or "SERVICE_UNKNOWN" for a service the
        server does not know.
        """
        try:
            reply = self._call(self._health.Check, c.health_request(service), timeout)
        except ModelNotFoundError:  # NOT_FOUND from Health.Check: an unknown service name
            return "SERVICE_UNKNOWN"
        return c.health_status(reply)

    def wait_until_serving(self, timeout: float) -> None:
        """Polls health until SERVING; UnavailableError when ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        last = ch.NO_ANSWER
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                last = self.health(timeout=ch.poll_timeout(remaining))
                if last == "SERVING":
                    return
            except PolybriefError as error:
                last = ch.last_answer(last, error)
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))
        raise UnavailableError(
            grpc.StatusCode.UNAVAILABLE, ch.not_serving_message(self.target, timeout, last)
        )
