"""API keys: stored as SHA-256 digests, compared in constant time, with per-key quotas.

The key file (``POLYBRIEF_API_KEYS``) is TOML; ``polybrief-server keys new ID`` prints a fresh
key once and the entry to paste::

    [[key]]
    id = "newsdesk"                  # shown in logs and metrics, never the key itself
    sha256 = "9f86d081884c7d65..."   # hex digest of the key
    requests_per_minute = 600        # optional; unlimited when absent
    characters_per_minute = 2000000  # optional; input characters of Summarize/Translate

Keys are 32 random bytes, so a plain SHA-256 digest is enough to keep the file useless
to a reader (a slow password hash protects low-entropy secrets, which these are not).
Every call except ``grpc.health.v1.Health`` needs ``authorization: Bearer <key>``;
server reflection is one of those calls, so strangers cannot list the API either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from polybrief.service.api.status import to_status
from polybrief.service.errors import PolybriefError, QuotaExceeded, Unauthenticated
from polybrief.service.middleware.handlers import (
    Behaviour,
    MethodInterceptor,
    StreamBehaviour,
    refusing,
    with_behaviour,
    with_stream_behaviour,
)
from polybrief.service.observability.logs import API_KEY_ID

KEY_PREFIX = "pb_"
UNGUARDED_PREFIX = "/grpc.health.v1.Health/"
_ENTRY_FIELDS = {"id", "sha256", "requests_per_minute", "characters_per_minute"}


class KeyFileError(ValueError):
    """The key file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class ApiKey:
    """One key's identity and limits (the key itself is never stored)."""

    id: str
    digest: bytes
    requests_per_minute: int | None = None
    characters_per_minute: int | None = None


def new_key() -> str:
    """A fresh random key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def entry_for(key_id: str, key: str) -> str:
    """The key file entry for ``key`` (TOML)."""
    return f'[[key]]\nid = "{key_id}"\nsha256 = "{digest(key).hex()}"\n'


class KeyStore:
    """The known keys."""

    def __init__(self, keys: list[ApiKey]) -> None:
        ids = [k.id for k in keys]
        if len(set(ids)) != len(ids):
            raise KeyFileError("key ids must be unique")
        self.keys = tuple(keys)

    @classmethod
    def load(cls, path: Path) -> KeyStore:
        """Reads a key file; every problem is a KeyFileError naming where it is."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise KeyFileError(f"{path}: {exc}") from exc
        unknown = set(data) - {"key"}
        if unknown:
            raise KeyFileError(f"{path}: unknown table(s) {sorted(unknown)}; expected [[key]]")
        keys = [_entry(path, index, entry) for index, entry in enumerate(data.get("key", []))]
        if not keys:
            raise KeyFileError(f"{path}: no [[key]] entries; every call would be refused")
        return cls(keys)

    def identify(self, presented: str) -> ApiKey | None:
        """The key ``presented`` is, or None. Compares against every key, in constant time
        per key, so the time taken tells nothing about which digest came close."""
        wanted = digest(presented)
        found = None
        for key in self.keys:
            if hmac.compare_digest(wanted, key.digest):
                found = key
        return found


def _entry(path: Path, index: int, entry: Any) -> ApiKey:
    where = f"{path}: key[{index}]"
    if not isinstance(entry, dict):
        raise KeyFileError(f"{where}: must be a table")
    unknown = set(entry) - _ENTRY_FIELDS
    if unknown:
        raise KeyFileError(f"{where}: unknown field(s) {sorted(unknown)}")
    key_id, hexdigest = entry.get("id"), entry.get("sha256")
    if not isinstance(key_id, str) or not key_id:
        raise KeyFileError(f"{where}.id: a non-empty string is required")
    if not isinstance(hexdigest, str) or len(hexdigest) != 64:
        raise KeyFileError(f"{where}.sha256: 64 hex digits are required")
    try:
        raw = bytes.fromhex(hexdigest)
    except ValueError as exc:
        raise KeyFileError(f"{where}.sha256: not hex") from exc
    limits = {}
    for name in ("requests_per_minute", "characters_per_minute"):
        value = entry.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise KeyFileError(f"{where}.{name}: a positive integer is required")
        limits[name] = value
    return ApiKey(key_id, raw, **limits)


class _Bucket:
    """A token bucket refilled at ``per_minute / 60`` per second, holding ``per_minute``."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.level = self.capacity
        self.stamp = time.monotonic()

    def take(self, amount: float) -> float:
        """Takes ``amount`` and returns 0, or takes nothing and returns the wait in seconds."""
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if amount <= self.level:
            self.level -= amount
            return 0.0
        return (min(amount, self.capacity) - self.level) / self.rate


class Quotas:
    """Per-key request and character allowances per minute."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def charge(self, key: ApiKey, *, requests: int = 0, characters: int = 0) -> None:
        """Charges a call; raises QuotaExceeded (charging nothing) past an allowance."""
        wanted = (
            ("requests per minute", key.requests_per_minute, requests),
            ("characters per minute", key.characters_per_minute, characters),
        )
        with self._lock:
            for name, limit, amount in wanted:
                if limit is None or amount == 0:
                    continue
                bucket = self._buckets.setdefault((key.id, name), _Bucket(limit))
                wait = bucket.take(amount)
                if wait > 0:
                    raise QuotaExceeded(key.id, f"{limit} {name}", retry_after_s=wait)


def _bearer(metadata: Any) -> str | None:
    for name, value in metadata or ():
        if name == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def input_characters(request: Any) -> int:
    """Characters of input text in a polybrief request (what character quotas count)."""
    texts = getattr(request, "texts", None)
    total = sum(len(t) for t in texts) if texts is not None else 0
    text = getattr(request, "text", None)
    return total + (len(text) if isinstance(text, str) else 0)


class AuthInterceptor(MethodInterceptor):
    """Refuses calls without a known key (UNAUTHENTICATED) or over quota
    (RESOURCE_EXHAUSTED with QuotaFailure) before they reach a handler or a model."""

    def __init__(self, keys: KeyStore, quotas: Quotas | None = None) -> None:
        self.keys = keys
        self.quotas = quotas or Quotas()

    def wrap(
        self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        method: str = details.method
        if method.startswith(UNGUARDED_PREFIX):
            return handler
        presented = _bearer(details.invocation_metadata)
        key = self.keys.identify(presented) if presented is not None else None
        problem: PolybriefError | None = None
        if key is None:
            problem = Unauthenticated(
                "an API key is required: send `authorization: Bearer <key>` metadata"
                if presented is None
                else "unknown API key"
            )
        else:
            try:
                self.quotas.charge(key, requests=1)
            except QuotaExceeded as exc:
                problem = exc
        if problem is not None:
            return refusing(handler, problem)
        if key is not None and handler.unary_unary is not None:
            return with_behaviour(handler, self._charging_characters(key, handler.unary_unary))
        if key is not None and handler.unary_stream is not None:
            return with_stream_behaviour(handler, self._charging_stream(key, handler.unary_stream))
        return handler

    async def _charge(self, key: ApiKey, request: Any, context: grpc.aio.ServicerContext) -> None:
        API_KEY_ID.set(key.id)
        try:
            self.quotas.charge(key, characters=input_characters(request))
        except QuotaExceeded as exc:
            await context.abort_with_status(to_status(exc))

    def _charging_characters(self, key: ApiKey, behaviour: Behaviour) -> Behaviour:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await self._charge(key, request, context)
            return await behaviour(request, context)

        return call

    def _charging_stream(self, key: ApiKey, behaviour: StreamBehaviour) -> StreamBehaviour:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await self._charge(key, request, context)
            async for event in behaviour(request, context):
                yield event

        return call
