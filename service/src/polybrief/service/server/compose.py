"""The composition root: every component of a server, built from one ``Settings``.

Nothing else reads settings or states a default; components take their values as
arguments from here.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

from polybrief.service.api.servicer import PolybriefServicer
from polybrief.service.batching import Batcher
from polybrief.service.cache import TranslationCache
from polybrief.service.domain import Limits
from polybrief.service.engine import Engine
from polybrief.service.inference import Runner
from polybrief.service.models.catalog import load_catalog
from polybrief.service.models.registry import ModelRegistry
from polybrief.service.observability.metrics import Metrics
from polybrief.service.settings import Settings
from polybrief.service.telemetry import Telemetry


def limits(settings: Settings) -> Limits:
    """The request limits that the engine enforces and ListCapabilities reports: the
    settings of the same name, and two that the settings state in other units."""
    same = {f.name: getattr(settings, f.name) for f in fields(Limits) if hasattr(settings, f.name)}
    return Limits(
        **same,
        max_queued_segments=settings.max_queue,
        default_deadline_ms=int(settings.default_deadline_seconds * 1000),
    )


def build_registry(settings: Settings, telemetry: Telemetry | None = None) -> ModelRegistry:
    """The model registry over the settings' catalogue (nothing is loaded yet)."""
    return ModelRegistry(
        load_catalog(settings.catalog),
        allow_download=settings.allow_download,
        max_loaded=settings.max_loaded_models,
        threads=settings.inference_threads,
        ct2_cache=settings.ct2_cache,
        max_batch_tokens=settings.max_batch_tokens,
        telemetry=telemetry,
    )


def build_engine(settings: Settings, telemetry: Telemetry | None = None) -> Engine:
    """The grpc-free engine: registry, batcher (its inference thread starts here), cache."""
    batcher = Batcher(
        max_batch=settings.max_batch,
        max_wait_s=settings.max_wait_ms / 1000,
        fill_wait_s=settings.fill_wait_ms / 1000,
        fill_fraction=settings.fill_wait_fraction,
        max_queue=settings.max_queue,
        workers=settings.inference_workers,
        telemetry=telemetry,
    )
    runner = Runner(
        batcher,
        TranslationCache(settings.cache_mb * 1024 * 1024),
        max_generated_tokens=settings.max_generated_tokens,
        guards=settings.quality_guards,
        telemetry=telemetry,
    )
    return Engine(
        build_registry(settings, telemetry),
        limits=limits(settings),
        runner=runner,
        low_confidence=settings.low_confidence,
        legs=ThreadPoolExecutor(settings.leg_threads, thread_name_prefix="polybrief-leg"),
    )


@dataclass
class Components:
    """What a server process runs: the engine behind the servicer, and their helpers."""

    engine: Engine
    servicer: PolybriefServicer
    executor: ThreadPoolExecutor
    metrics: Metrics


def build(settings: Settings) -> Components:
    """Every component of a server, wired together."""
    metrics = Metrics()
    engine = build_engine(settings, metrics)
    # One request thread per admitted call: they only wait on the inference thread.
    executor = ThreadPoolExecutor(settings.max_concurrent_calls, thread_name_prefix="request")
    servicer = PolybriefServicer(
        engine,
        executor,
        max_concurrent_calls=settings.max_concurrent_calls,
        default_deadline_s=settings.default_deadline_seconds,
    )
    metrics.watch(
        queued=engine.runner.batcher.queued,
        inflight=lambda: servicer.inflight,
        cache=engine.runner.cache.stats,
    )
    return Components(engine, servicer, executor, metrics)
