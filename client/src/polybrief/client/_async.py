"""The asyncio client: the same API as Client, over grpc.aio."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from polybrief.client import _convert as c
from polybrief.client import _types as t
from polybrief.client._client import DEFAULT_TARGET, auth_metadata, channel_options
from polybrief.client._errors import UnavailableError, map_rpc_error
from polybrief.v1 import polybrief_pb2 as pb
from polybrief.v1 import polybrief_pb2_grpc


class AsyncClient:
    """An asyncio polybrief client that owns its channel; use ``async with``."""

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float = 30.0,
        credentials: grpc.ChannelCredentials | None = None,
        api_key: str | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self.target = target
        self.timeout = timeout
        opts = channel_options(options)
        self._channel = (
            grpc.aio.secure_channel(target, credentials, options=opts)
            if credentials is not None
            else grpc.aio.insecure_channel(target, options=opts)
        )
        self._stub = polybrief_pb2_grpc.PolybriefStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = auth_metadata(api_key)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close(None)

    async def _call(self, method: Callable[..., Any], request: Any, timeout: float | None) -> Any:
        try:
            return await method(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            raise map_rpc_error(error) from None

    async def summarize(
        self,
        text: str,
        *,
        to: Sequence[str] = (),
        source: str | None = None,
        max_words: int | None = None,
        mode: str = "abstractive",
        model: str | None = None,
        translation_model: str | None = None,
        timeout: float | None = None,
    ) -> t.SummarizeResult:
        """Briefs of ``text`` in each language of ``to`` (default: the source language)."""
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
        """One translation per text, in order; a single string is a batch of one."""
        request = c.translate_request(texts, to, source, model)
        return c.translate_result(await self._call(self._stub.Translate, request, timeout))

    async def detect(
        self, texts: str | Sequence[str], *, timeout: float | None = None
    ) -> list[t.DetectedLanguage]:
        """The language of each text."""
        return c.detect_result(
            await self._call(self._stub.DetectLanguage, c.detect_request(texts), timeout)
        )

    async def capabilities(self, *, timeout: float | None = None) -> t.Capabilities:
        """Languages, models and limits of the server."""
        reply = await self._call(self._stub.ListCapabilities, pb.ListCapabilitiesRequest(), timeout)
        return c.capabilities_result(reply)

    async def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """Standard gRPC health status: "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", …"""
        reply = await self._call(
            self._health.Check, health_pb2.HealthCheckRequest(service=service), timeout
        )
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    async def wait_until_serving(self, timeout: float) -> None:
        """Polls health until SERVING; UnavailableError when ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                last = await self.health(timeout=min(5.0, max(deadline - time.monotonic(), 0.1)))
                if last == "SERVING":
                    return
            except Exception as exc:
                last = str(exc)
            await asyncio.sleep(0.2)
        raise UnavailableError(
            grpc.StatusCode.UNAVAILABLE, f"{self.target} not serving after {timeout}s: {last}"
        )
