"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from polybrief.client import _convert as c
from polybrief.client import _types as t
from polybrief.client._errors import UnavailableError, map_rpc_error
from polybrief.v1 import polybrief_pb2_grpc

R = TypeVar("R")
DEFAULT_TARGET = "localhost:50051"


def channel_options(extra: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [*c.CHANNEL_OPTIONS, *extra]


def auth_metadata(api_key: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {api_key}"),) if api_key else ()


class Client:
    """A blocking polybrief client that owns its channel; use it as a context manager.

    Every call has a deadline (``timeout`` seconds unless overridden per call) and is
    retried on UNAVAILABLE by the channel. Failures raise ``PolybriefError`` subclasses.
    """

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
            grpc.secure_channel(target, credentials, options=opts)
            if credentials is not None
            else grpc.insecure_channel(target, options=opts)
        )
        self._stub = polybrief_pb2_grpc.PolybriefStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = auth_metadata(api_key)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: Callable[..., Any], request: Any, timeout: float | None) -> Any:
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise map_rpc_error(error) from None

    def summarize(
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
        """One translation per text, in order; a single string is a batch of one."""
        request = c.translate_request(texts, to, source, model)
        return c.translate_result(self._call(self._stub.Translate, request, timeout))

    def detect(
        self, texts: str | Sequence[str], *, timeout: float | None = None
    ) -> list[t.DetectedLanguage]:
        """The language of each text."""
        return c.detect_result(
            self._call(self._stub.DetectLanguage, c.detect_request(texts), timeout)
        )

    def capabilities(self, *, timeout: float | None = None) -> t.Capabilities:
        """Languages, models and limits of the server."""
        from polybrief.v1 import polybrief_pb2 as pb

        return c.capabilities_result(
            self._call(self._stub.ListCapabilities, pb.ListCapabilitiesRequest(), timeout)
        )

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """Standard gRPC health status: "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", …"""
        reply = self._call(
            self._health.Check, health_pb2.HealthCheckRequest(service=service), timeout
        )
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    def wait_until_serving(self, timeout: float) -> None:
        """Polls health until SERVING; UnavailableError when ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                last = self.health(timeout=min(5.0, max(deadline - time.monotonic(), 0.1)))
                if last == "SERVING":
                    return
            except Exception as exc:
                last = str(exc)
            time.sleep(0.2)
        raise UnavailableError(
            grpc.StatusCode.UNAVAILABLE, f"{self.target} not serving after {timeout}s: {last}"
        )
