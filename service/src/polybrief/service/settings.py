"""One typed settings object for the server: flags > ``POLYBRIEF_*`` environment > defaults.

This is the only place a default of the server is written: the composition root
(``server/compose.py``) builds every component from these fields, and the
``polybrief-server serve`` flags and their help are generated from them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_threads() -> int:
    return max(1, os.cpu_count() or 1)


def _default_ct2_cache() -> Path:
    return Path.home() / ".cache" / "polybrief" / "ctranslate2"


class Settings(BaseSettings):
    """Server configuration. Every field can be set as ``POLYBRIEF_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="POLYBRIEF_", extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 in containers.")
    port: int = Field(50051, ge=0, le=65535, description="Port to bind; 0 picks a free one.")
    catalog: Path | None = Field(
        None, description="Model catalogue (TOML); unset: the catalogue shipped in the package."
    )
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
    # each admitted call holds a request thread that only waits on the inference thread
    max_concurrent_calls: int = Field(
        64, ge=1, description="Calls admitted at once; one more gets RESOURCE_EXHAUSTED at once."
    )
    max_batch: int = Field(64, ge=1, description="Segments per inference batch.")
    # A CTranslate2 pass holds ~60-100 kB per source token at opus-mt's size (attention
    # caches, fp32). make bench at c64: 2048 peaked at 390 MB; 4096 runs 64 news
    # sentences in one pass, 4-33% more tokens/s for ~95-160 MB more.
    max_batch_tokens: int = Field(
        2048,
        ge=16,
        description="Source tokens per CTranslate2 pass, at most: a larger batch runs as "
        "several passes of similar lengths (batch_type='tokens'); bounds a batch's memory.",
    )
    # Two: the legs of a brief (one model per language pair) overlap; small batches leave
    # the cores partly idle, so the second leg costs little (make bench: legs 4x faster).
    inference_workers: int = Field(
        2,
        ge=1,
        description="Inference threads taking batches side by side, never two of one model "
        "(1: one batch at a time, all cores to it).",
    )
    leg_threads: int = Field(
        32,
        ge=1,
        description="Threads running the parts of calls side by side (the translation legs "
        "of a brief's languages, the items of a Translate call); they only wait on the "
        "inference thread. 1 runs each call's parts one by one.",
    )
    max_wait_ms: float = Field(4.0, ge=0, description="How long a segment waits to share a batch.")
    fill_wait_ms: float = Field(
        30.0,
        ge=0,
        description="How long a batch may wait to reach the recent concurrency (closed-loop "
        "clients return a few ms after their answer).",
    )
    fill_wait_fraction: float = Field(
        0.1,
        ge=0,
        le=1,
        description="The fill wait is at least this share of the model's last batch time: "
        "many callers of one batch take longer than fill_wait_ms to come back (c64 batches "
        "averaged 23 of 64 segments with a fixed 30 ms).",
    )
    max_queue: int = Field(4096, ge=1, description="Segments waiting for inference, at most.")
    malloc_arenas: int = Field(
        2,
        ge=0,
        description="glibc malloc arenas, at most (as MALLOC_ARENA_MAX, which wins when set; "
        "0: glibc's own, 8 per core): each request or leg thread may otherwise get an arena "
        "of its own; 2 lowered the c64 peak RSS of make bench's server by 12-21 MB at the same "
        "tokens/s (six paired runs).",
    )
    cache_mb: int = Field(64, ge=0, description="Translation cache budget in MiB (0: off).")
    ct2_cache: Path = Field(
        default_factory=_default_ct2_cache,
        description="Where models converted to CTranslate2 are kept.",
    )
    max_receive_message_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="gRPC receive limit: above the largest valid request (100,000 characters "
        "are at most 400 KB of UTF-8), so only an abusive message meets it.",
    )
    max_send_message_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="gRPC send limit.")
    max_text_characters: int = Field(100_000, ge=1, description="Summarize text, characters.")
    max_translate_items: int = Field(64, ge=1, description="Texts per Translate/Detect call.")
    max_item_characters: int = Field(20_000, ge=1, description="One Translate text, characters.")
    max_total_characters: int = Field(100_000, ge=1, description="All texts of a call, characters.")
    max_target_languages: int = Field(8, ge=1, description="Target languages of one call.")
    min_words: int = Field(10, ge=1, description="Smallest word budget a brief may ask for.")
    max_words: int = Field(400, ge=1, description="Largest word budget a brief may ask for.")
    default_words: int = Field(60, ge=1, description="Word budget of a brief that sends none.")
    max_glossary_terms: int = Field(256, ge=0, description="Glossary terms of one call.")
    max_glossary_term_characters: int = Field(
        200, ge=1, description="Characters of one glossary term (source or target)."
    )
    quality_guards: bool = Field(
        True,
        description="Check every output (loops, length, language) and re-decode the segments "
        "that fail; off: outputs are exactly the model's.",
    )
    low_confidence: float = Field(
        0.2, ge=0, le=1, description="Outputs under this confidence get LOW_CONFIDENCE."
    )
    max_generated_tokens: int = Field(
        1024, ge=8, description="Tokens a model may generate for one segment, at most."
    )
    default_deadline_seconds: float = Field(
        120.0,
        gt=0,
        description="Deadline of calls that send none; a caller's own deadline is kept "
        "when shorter.",
    )
    log_level: str = Field("INFO", description="Python logging level.")
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line (with request_id); text: for people."
    )
    grace_seconds: float = Field(10.0, ge=0, description="Drain time on shutdown.")
    # gRPC clients balance calls over the connections they hold, and only re-resolve a
    # name (a headless Service) when one closes: without an age limit, replicas added by
    # a scale-up would get no calls from clients that were already connected.
    max_connection_age_seconds: float = Field(
        300.0,
        ge=0,
        description="Close each client connection (GOAWAY) after this long, ±10%, so that "
        "clients re-resolve and spread over replicas added since. 0: never.",
    )
    max_connection_age_grace_seconds: float = Field(
        120.0,
        ge=0,
        description="How long calls still running on a connection closed for its age may "
        "finish (as long as the default deadline, so no call that uses it is cut).",
    )
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Serve Prometheus metrics on this port (off if unset)."
    )
    health_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Also serve grpc.health.v1 alone, in plaintext, on this port: for "
        "probes that cannot do (mutual) TLS. Off if unset.",
    )
    http_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Also serve the HTTP/JSON API (transcoded from the proto), its OpenAPI "
        "document and the editors' web page on this port, with the same TLS, keys and "
        "limits as gRPC. Off if unset.",
    )
    tls_cert: Path | None = Field(None, description="Server certificate chain (PEM): turns TLS on.")
    tls_key: Path | None = Field(None, description="Private key (PEM) of tls_cert.")
    tls_client_ca: Path | None = Field(
        None, description="CA bundle (PEM) that client certificates must chain to: mutual TLS."
    )
    api_keys: Path | None = Field(
        None,
        description="API key file (TOML, hashed keys; see `polybrief-server keys new`): every call "
        "but health then needs `authorization: Bearer <key>`.",
    )

    @model_validator(mode="after")
    def _word_budgets_ordered(self) -> Settings:
        if not self.min_words <= self.default_words <= self.max_words:
            raise ValueError("min_words <= default_words <= max_words is required")
        return self

    @model_validator(mode="after")
    def _files_complete_and_readable(self) -> Settings:
        """A half-configured TLS setup, or a named file that is not there, refuses to start
        instead of serving in the clear or without the keys."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be set together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("tls_client_ca (mutual TLS) needs tls_cert and tls_key")
        for name in ("tls_cert", "tls_key", "tls_client_ca", "api_keys"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: {path} is not a readable file")
        return self
