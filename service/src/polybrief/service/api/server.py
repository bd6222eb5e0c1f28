"""Builds and runs the gRPC server: models load before health reports SERVING; SIGTERM
flips health to NOT_SERVING, refuses new calls with UNAVAILABLE and lets in-flight calls
finish within the grace period.

Health: the overall service ("") and ``polybrief.v1.Polybrief`` are SERVING once preload
is done; each catalogue model has its own entry, ``polybrief.model.<id>``, which turns
NOT_SERVING when that model fails to load (the rest keeps serving)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from polybrief.service.api.auth import AuthInterceptor, KeyStore
from polybrief.service.api.metrics import Metrics
from polybrief.service.api.observe import ObservingInterceptor
from polybrief.service.api.servicer import SERVICE_NAME, PolybriefServicer, generic_handler
from polybrief.service.api.tls import server_credentials
from polybrief.service.batching import Batcher
from polybrief.service.cache import TranslationCache
from polybrief.service.domain import Limits, ModelState
from polybrief.service.engine import Engine
from polybrief.service.inference import Runner
from polybrief.service.models.catalog import load_catalog
from polybrief.service.models.registry import ModelRegistry
from polybrief.service.settings import Settings
from polybrief.service.telemetry import Telemetry

log = logging.getLogger(__name__)


MODEL_HEALTH_PREFIX = "polybrief.model."


@dataclass
class RunningServer:
    """A started server and the pieces tests and the CLI need to drive it."""

    server: grpc.aio.Server
    port: int
    servicer: PolybriefServicer
    health: HealthServicer
    executor: ThreadPoolExecutor
    metrics: Metrics
    metrics_port: int | None = None
    metrics_http: Any = None
    probe: grpc.aio.Server | None = None
    probe_port: int | None = None

    async def mark(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        self.servicer.ready = serving
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)

    async def stop(self, grace: float | None) -> None:
        """Refuses new calls at once, lets running ones finish within ``grace`` seconds.

        The drain ends as soon as no polybrief call is running: long-lived streams (a
        health Watch, reflection) are then cancelled instead of holding the process for
        the whole grace period.
        """
        await self.mark(False)
        stopping = asyncio.ensure_future(self.server.stop(grace))
        if grace:
            loop = asyncio.get_running_loop()
            until = loop.time() + grace
            while self.servicer.inflight and loop.time() < until:
                await asyncio.sleep(0.05)
            await self.server.stop(0)
        await stopping
        if self.probe is not None:
            await self.probe.stop(0)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.servicer.engine.close()
        if self.metrics_http is not None:
            self.metrics_http.shutdown()


def configure_runtime(settings: Settings) -> None:
    """Offline by default; torch threads sized to the machine (must run before imports)."""
    if not settings.allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # progress bars would interleave with the JSON log lines on stderr
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    torch.set_num_threads(settings.inference_threads)


def build_engine(settings: Settings, telemetry: Telemetry | None = None) -> Engine:
    catalog = load_catalog(settings.catalog)
    registry = ModelRegistry(
        catalog,
        allow_download=settings.allow_download,
        max_loaded=settings.max_loaded_models,
        threads=settings.inference_threads,
        telemetry=telemetry,
    )
    limits = Limits(
        max_receive_message_bytes=settings.max_receive_message_bytes,
        max_generated_tokens=settings.max_generated_tokens,
        max_concurrent_calls=settings.max_concurrent_calls,
        max_queued_segments=settings.max_queue,
        default_deadline_ms=int(settings.default_deadline_seconds * 1000),
    )
    batcher = Batcher(
        max_batch=settings.max_batch,
        max_wait_s=settings.max_wait_ms / 1000,
        fill_wait_s=settings.fill_wait_ms / 1000,
        max_queue=settings.max_queue,
        telemetry=telemetry,
    )
    runner = Runner(
        batcher,
        TranslationCache(settings.cache_mb * 1024 * 1024),
        max_generated_tokens=settings.max_generated_tokens,
    )
    return Engine(registry, limits=limits, runner=runner)


def _interceptors(settings: Settings, metrics: Metrics) -> list[grpc.aio.ServerInterceptor]:
    interceptors: list[grpc.aio.ServerInterceptor] = [ObservingInterceptor(SERVICE_NAME, metrics)]
    if settings.api_keys is not None:
        interceptors.append(AuthInterceptor(KeyStore.load(settings.api_keys)))
    return interceptors


async def start(settings: Settings, engine: Engine | None = None) -> RunningServer:
    """Starts serving (health NOT_SERVING), preloads models, then reports SERVING.

    Raises TlsConfigError or KeyFileError before opening any port when the TLS files or
    the key file cannot work.
    """
    configure_runtime(settings)
    credentials = server_credentials(settings)
    metrics = Metrics()
    interceptors = _interceptors(settings, metrics)
    engine = engine or build_engine(settings, metrics)
    executor = ThreadPoolExecutor(settings.max_concurrent_calls, thread_name_prefix="request")
    servicer = PolybriefServicer(
        engine,
        executor,
        max_concurrent_calls=settings.max_concurrent_calls,
        default_deadline_s=settings.default_deadline_seconds,
    )
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
        ],
    )
    server.add_generic_rpc_handlers((generic_handler(servicer),))
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (
            SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    address = f"{settings.host}:{settings.port}"
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    running = RunningServer(server, port, servicer, health, executor, metrics)
    metrics.watch(
        queued=engine.runner.batcher.queued,
        inflight=lambda: servicer.inflight,
        cache=engine.runner.cache.stats,
    )
    _watch_models(running, asyncio.get_running_loop())
    if settings.metrics_port is not None:
        running.metrics_http, running.metrics_port = metrics.serve(
            settings.host, settings.metrics_port
        )
    if settings.health_port is not None:
        running.probe = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(health, running.probe)
        running.probe_port = running.probe.add_insecure_port(
            f"{settings.host}:{settings.health_port}"
        )
        await running.probe.start()
    await running.mark(False)
    await server.start()
    log.info(
        "listening on %s:%d (%s, %s; NOT_SERVING until models are loaded)",
        settings.host,
        port,
        "plaintext" if credentials is None else "mutual TLS" if settings.tls_client_ca else "TLS",
        "API keys required" if settings.api_keys else "no authentication",
    )
    if settings.preload:
        failures = await asyncio.get_running_loop().run_in_executor(executor, engine.preload)
        for failure in failures:
            log.error("model failed to load: %s", failure)
    await running.mark(True)
    log.info("SERVING on %s:%d", settings.host, port)
    return running


def _watch_models(running: RunningServer, loop: asyncio.AbstractEventLoop) -> None:
    """Gives every catalogue model a health entry that follows its loads."""
    engine = running.servicer.engine
    for spec in engine.catalog.models:
        state, _ = engine.registry.state(spec)
        status = (
            health_pb2.HealthCheckResponse.NOT_SERVING
            if state is ModelState.FAILED
            else health_pb2.HealthCheckResponse.SERVING
        )
        loop.create_task(running.health.set(MODEL_HEALTH_PREFIX + spec.id, status))

    def loaded(model: str, ok: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ok
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        asyncio.run_coroutine_threadsafe(
            running.health.set(MODEL_HEALTH_PREFIX + model, status), loop
        )

    running.metrics.on_model_loaded(loaded)


async def serve(settings: Settings) -> None:
    """Runs until SIGTERM or SIGINT, then drains for ``grace_seconds``."""
    running = await start(settings)
    if running.metrics_port is not None:
        log.info("metrics on http://%s:%d/metrics", settings.host, running.metrics_port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("shutting down: draining for up to %.1fs", settings.grace_seconds)
    await running.stop(settings.grace_seconds)
