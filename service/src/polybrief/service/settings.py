"""One typed settings object for the server: flags > ``POLYBRIEF_*`` environment > defaults."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_threads() -> int:
    return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    """Server configuration. Every field can be set as ``POLYBRIEF_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="POLYBRIEF_", extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 in containers.")
    port: int = Field(50051, ge=0, le=65535, description="Port to bind; 0 picks a free one.")
    catalog: Path | None = Field(None, description="Model catalogue (TOML); default: shipped.")
    allow_download: bool = Field(
        False, description="Let the server fetch missing models from the hub at load time."
    )
    preload: bool = Field(
        True, description="Load catalogue models marked preload=true before reporting SERVING."
    )
    max_loaded_models: int = Field(
        6, ge=1, description="Models kept in memory; least recently used ones are evicted."
    )
    inference_threads: int = Field(
        default_factory=_default_threads, ge=1, description="torch intra-op threads."
    )
    request_threads: int = Field(
        64,
        ge=1,
        description="Threads that run requests; they only wait while the single inference "
        "thread computes, so they do not add CPU load.",
    )
    max_batch: int = Field(32, ge=1, description="Segments per inference batch.")
    max_wait_ms: float = Field(
        4.0, ge=0, description="How long a segment waits for others to share its batch."
    )
    fill_wait_ms: float = Field(
        30.0,
        ge=0,
        description="How long a batch may wait to reach the recent concurrency (closed-loop "
        "clients return a few ms after their answer).",
    )
    max_queue: int = Field(4096, ge=1, description="Segments waiting for inference, at most.")
    cache_mb: int = Field(64, ge=0, description="Translation cache budget in MiB (0: off).")
    max_receive_message_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="gRPC receive limit."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    grace_seconds: float = Field(10.0, ge=0, description="Drain time on shutdown.")
