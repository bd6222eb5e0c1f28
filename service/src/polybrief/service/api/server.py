"""Builds and runs the gRPC server: models load before health reports SERVING; SIGTERM
flips health to NOT_SERVING and drains in-flight calls within the grace period."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from polybrief.service.api.servicer import SERVICE_NAME, PolybriefServicer, generic_handler
from polybrief.service.batching import Batcher
from polybrief.service.cache import TranslationCache
from polybrief.service.domain import Limits
from polybrief.service.engine import Engine
from polybrief.service.inference import Runner
from polybrief.service.models.catalog import load_catalog
from polybrief.service.models.registry import ModelRegistry
from polybrief.service.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    """A started server and the pieces tests and the CLI need to drive it."""

    server: grpc.aio.Server
    port: int
    servicer: PolybriefServicer
    health: HealthServicer
    executor: ThreadPoolExecutor

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
        await self.mark(False)
        await self.server.stop(grace)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.servicer.engine.close()


def configure_runtime(settings: Settings) -> None:
    """Offline by default; torch threads sized to the machine (must run before imports)."""
    if not settings.allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(settings.inference_threads)


def build_engine(settings: Settings) -> Engine:
    catalog = load_catalog(settings.catalog)
    registry = ModelRegistry(
        catalog,
        allow_download=settings.allow_download,
        max_loaded=settings.max_loaded_models,
        threads=settings.inference_threads,
    )
    limits = Limits(max_receive_message_bytes=settings.max_receive_message_bytes)
    batcher = Batcher(
        max_batch=settings.max_batch,
        max_wait_s=settings.max_wait_ms / 1000,
        fill_wait_s=settings.fill_wait_ms / 1000,
        max_queue=settings.max_queue,
    )
    runner = Runner(batcher, TranslationCache(settings.cache_mb * 1024 * 1024))
    return Engine(registry, limits=limits, runner=runner)


async def start(settings: Settings, engine: Engine | None = None) -> RunningServer:
    """Starts serving (health NOT_SERVING), preloads models, then reports SERVING."""
    configure_runtime(settings)
    engine = engine or build_engine(settings)
    executor = ThreadPoolExecutor(settings.request_threads, thread_name_prefix="request")
    servicer = PolybriefServicer(engine, executor)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
        ]
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
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    running = RunningServer(server, port, servicer, health, executor)
    await running.mark(False)
    await server.start()
    log.info("listening on %s:%d (NOT_SERVING until models are loaded)", settings.host, port)
    if settings.preload:
        failures = await asyncio.get_running_loop().run_in_executor(executor, engine.preload)
        for failure in failures:
            log.error("model failed to load: %s", failure)
    await running.mark(True)
    log.info("SERVING on %s:%d", settings.host, port)
    return running


async def serve(settings: Settings) -> None:
    """Runs until SIGTERM or SIGINT, then drains for ``grace_seconds``."""
    running = await start(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("shutting down: draining for up to %.1fs", settings.grace_seconds)
    await running.stop(settings.grace_seconds)
