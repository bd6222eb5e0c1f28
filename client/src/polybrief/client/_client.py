"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import grpc
from polybrief.client import _convert as c
from polybrief.client import _types as t
from polybrief.client._base import BaseClient, Call, R, ServingWait


class Client(BaseClient[grpc.Channel]):
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

    def _open(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None,
        options: list[tuple[str, Any]],
    ) -> grpc.Channel:
        if credentials is None:
            return grpc.insecure_channel(target, options=options)
        return grpc.secure_channel(target, credentials, options=options)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel; calls made afterwards fail."""
        self._channel.close()

    def _run(self, call: Call[R]) -> R:
        """Makes ``call``, blocking until it ends."""
        try:
            reply = call.method(call.request, timeout=call.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            return call.failed(error)
        return call.read(reply)

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
        glossary: t.Glossary | None = None,
        glossary_ignore_case: bool = False,
        timeout: float | None = None,
    ) -> t.SummarizeResult:
        """Briefs of ``text``, one per language of ``to`` in order (default: the source's).

        ``source`` is detected when not given; ``max_words`` defaults to the server's (60);
        ``mode`` is "abstractive" or "extractive"; ``model`` / ``translation_model`` pick
        catalogue models instead of the server's routing. ``glossary`` (``{source: target}``
        or ``(source, target)`` pairs; target "" = keep as is) is applied by the briefs'
        translation legs: every term found in the source comes out as the glossary says,
        verbatim (whole words, longest match first; case-insensitively with
        ``glossary_ignore_case``). A brief that cannot be made carries an ``ItemError``
        instead of failing the call; each brief has a ``confidence``, ``warnings`` and its
        ``applied_terms``.
        """
        request = c.summarize_request(text, to, source, max_words, mode, model, translation_model)
        c.add_glossary(request, glossary, glossary_ignore_case)
        return self._run(self._summarize(request, timeout))

    def translate(
        self,
        texts: str | Sequence[str],
        *,
        to: str,
        source: str | None = None,
        model: str | None = None,
        glossary: t.Glossary | None = None,
        glossary_ignore_case: bool = False,
        timeout: float | None = None,
    ) -> list[t.Translation]:
        """Translations of ``texts`` into ``to``, one per text, in order.

        A single string is a batch of one: the result is then a one-element list.
        ``source`` is detected per text when not given. ``glossary`` (``{source: target}``
        or ``(source, target)`` pairs; target "" = keep as is): every term found in a text
        comes out as the glossary says, verbatim (whole words, longest match first;
        case-insensitively with ``glossary_ignore_case``). A text that cannot be translated
        carries an ``ItemError`` instead of failing the call; each translation has a
        ``confidence``, ``warnings`` and its ``applied_terms``.
        """
        request = c.translate_request(texts, to, source, model)
        c.add_glossary(request, glossary, glossary_ignore_case)
        return self._run(self._translate(request, timeout))

    def detect(
        self, texts: str | Sequence[str], *, timeout: float | None = None
    ) -> list[t.DetectedLanguage]:
        """The language of each text, in order (a single string gives a one-element list)."""
        return self._run(self._detect(texts, timeout))

    def capabilities(self, *, timeout: float | None = None) -> t.Capabilities:
        """Languages, models (with their state) and limits of the server."""
        return self._run(self._capabilities(timeout))

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """Standard gRPC health status of ``service`` ("" is the whole server).

        "SERVING", "NOT_SERVING", "UNKNOWN", or "SERVICE_UNKNOWN" for a service the
        server does not know.
        """
        return self._run(self._check(service, timeout))

    def wait_until_serving(self, timeout: float) -> None:
        """Polls health until SERVING; UnavailableError when ``timeout`` seconds pass."""
        wait = ServingWait(self, timeout)
        while (poll := wait.next_poll()) is not None:
            if wait.serving(self._run(poll)):
                return
            time.sleep(wait.pause())
        raise wait.not_serving()
