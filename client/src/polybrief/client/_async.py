"""The asyncio client: the same API as ``Client``, over ``grpc.aio``."""

from __future__ import annotations

import asyncio
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


class AsyncClient:
    """An asyncio polybrief client that owns its channel; use ``async with``.

    >>> async with AsyncClient("localhost:50051") as client:
    ...     result = await client.summarize(article, to=["en", "fr"])

    Arguments (several targets for failover, ``credentials`` from ``tls_credentials``,
    ``api_key``), methods, deadlines, retries and errors are those of ``Client``; create
    and use it inside one running event loop.
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
            grpc.aio.secure_channel(grpc_target, credentials, options=opts)
            if credentials is not None
            else grpc.aio.insecure_channel(grpc_target, options=opts)
        )
        self._stub = polybrief_pb2_grpc.PolybriefStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = ch.auth_metadata(api_key)

    def __repr__(self) -> str:
        return f"AsyncClient({self.target!r}, timeout={self.timeout})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the channel, cancelling calls still in flight."""
        await self._channel.close(None)

    async def _call(self, method: Callable[..., Any], request: Any, timeout: float | None) -> Any:
        deadline = self.timeout if timeout is None else timeout
        try:
            return await method(request, timeout=deadline, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            raise _map(error) from error

    async def summarize(
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
        """Briefs of ``text``, one per language of ``to``; see ``Client.summarize``."""
        request = c.summarize_request(text, to, source, max_words, mode, model, translation_model)
        return c.summarize_result(await self._call(self._stub.Summarize, request, timeout))

    async def translate(
        self,
        texts: str | Sequence[str],
        *,
        to: str,
        source: str | None = None,
        model: str | None = None,
        timeout: float | None = None,
    ) -> list[t.Translation]:
        """Translations, one per text (a single string gives a one-element list)."""
        request = c.translate_request(texts, to, source, model)
        return c.translate_result(await self._call(self._stub.Translate, request, timeout))

    async def detect(
        self, texts: str | Sequence[str], *, timeout: float | None = None
    ) -> list[t.DetectedLanguage]:
        """The language of each text, in order (a single string gives a one-element list)."""
        request = c.detect_request(texts)
        return c.detect_result(await self._call(self._stub.DetectLanguage, request, timeout))

    async def capabilities(self, *, timeout: float | None = None) -> t.Capabilities:
        """Languages, models (with their state) and limits of the server."""
        request = c.capabilities_request()
        reply = await self._call(self._stub.ListCapabilities, request, timeout)
        return c.capabilities_result(reply)

    async def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """Standard gRPC health status of ``service``; see ``Client.health``."""
        try:
            reply = await self._call(self._health.Check, c.health_request(service), timeout)
        except ModelNotFoundError:  # NOT_FOUND from Health.Check: an unknown service name
            return "SERVICE_UNKNOWN"
        return c.health_status(reply)

    async def wait_until_serving(self, timeout: float) -> None:
        """Polls health until SERVING; UnavailableError when ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        last = ch.NO_ANSWER
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                last = await self.health(timeout=ch.poll_timeout(remaining))
                if last == "SERVING":
                    return
            except PolybriefError as error:
                last = ch.last_answer(last, error)
            await asyncio.sleep(min(0.2, max(deadline - time.monotonic(), 0)))
        raise UnavailableError(
            grpc.StatusCode.UNAVAILABLE, ch.not_serving_message(self.target, timeout, last)
        )
