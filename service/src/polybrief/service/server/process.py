"""Runs the gRPC server: models load before health reports SERVING; SIGTERM flips health
to NOT_SERVING, refuses new calls with UNAVAILABLE and lets in-flight calls finish within
the grace period.

Health: see ``health``. The servicer, engine and their helpers come from ``compose``;
this module only wires them into a gRPC server (interceptors, health, reflection, ports).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from polybrief.service.api.servicer import SERVICE_NAME, PolybriefServicer, generic_handler
from polybrief.service.middleware.auth import AuthInterceptor, KeyStore
from polybrief.service.middleware.observe import ObservingInterceptor
from polybrief.service.observability.metrics import Metrics
from polybrief.service.server import compose
from polybrief.service.server.health import follow_models, mark_service
from polybrief.service.server.runtime import configure_runtime
from polybrief.service.server.tls import server_credentials
from polybrief.service.settings import Settings

if TYPE_CHECKING:  # imported only where the HTTP port is on (uvicorn costs start-up time)
    from polybrief.service.http.serve import HttpServer

log = logging.getLogger(__name__)


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
    http: HttpServer | None = None

    async def mark(self, serving: bool) -> None:
        """Health and admission: SERVING and accepting calls, or neither."""
        self.servicer.ready = serving
        await mark_service(self.health, serving)

    async def stop(self, grace: float | None) -> None:
        """Refuses new calls at once, lets running ones finish within ``grace`` seconds.

        A call counts as running until its response has been sent, so the drain never
        cuts a call that finished in time. The drain ends as soon as no polybrief call is
        running: long-lived streams (a health Watch, reflection) are then cancelled
        instead of holding the process for the whole grace period.
        """
        await self.mark(False)
        if self.http is not None:
            self.http.begin_stop()  # no new connections; its calls drain with gRPC's
        stopping = asyncio.ensure_future(self.server.stop(grace))
        if grace:
            loop = asyncio.get_running_loop()
            until = loop.time() + grace
            while self.servicer.inflight and loop.time() < until:
                await asyncio.sleep(0.02)
            await self.server.stop(0)
        await stopping
        if self.http is not None:
            await self.http.stopped(grace)
        if self.probe is not None:
            await self.probe.stop(0)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.servicer.engine.close()
        if self.metrics_http is not None:
            self.metrics_http.shutdown()


def _interceptors(settings: Settings, metrics: Metrics) -> list[grpc.aio.ServerInterceptor]:
    interceptors: list[grpc.aio.ServerInterceptor] = [ObservingInterceptor(SERVICE_NAME, metrics)]
    if settings.api_keys is not None:
        interceptors.append(AuthInterceptor(KeyStore.load(settings.api_keys)))
    return interceptors


def _connection_age_options(settings: Settings) -> list[tuple[str, int]]:
    """gRPC's connection age limit: clients reconnect, re-resolving the name (new replicas)."""
    if not settings.max_connection_age_seconds:
        return []
    grace = settings.max_connection_age_grace_seconds
    return [
        ("grpc.max_connection_age_ms", round(settings.max_connection_age_seconds * 1000)),
        ("grpc.max_connection_age_grace_ms", round(grace * 1000)),
    ]


async def start(settings: Settings) -> RunningServer:
    """Starts serving (health NOT_SERVING), preloads models, then reports SERVING.

    Raises TlsConfigError or KeyFileError before opening any port when the TLS files or
    the key file cannot work.
    """
    configure_runtime(settings)
    credentials = server_credentials(settings)
    parts = compose.build(settings)
    interceptors = _interceptors(settings, parts.metrics)
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
            ("grpc.max_send_message_length", settings.max_send_message_bytes),
            *_connection_age_options(settings),
        ],
    )
    server.add_generic_rpc_handlers((generic_handler(parts.servicer),))
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
    running = RunningServer(server, port, parts.servicer, health, parts.executor, parts.metrics)
    await follow_models(health, parts.engine.registry)
    if settings.metrics_port is not None:
        running.metrics_http, running.metrics_port = parts.metrics.serve(
            settings.host, settings.metrics_port
        )
    if settings.health_port is not None:
        running.probe = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(health, running.probe)
        running.probe_port = running.probe.add_insecure_port(
            f"{settings.host}:{settings.health_port}"
        )
        await running.probe.start()
    if settings.http_port is not None:  # HTTP/JSON, transcoded over a private unix socket
        from polybrief.service.http.serve import HttpServer, bind_internal

        running.http = HttpServer(settings, bind_internal(server))
    await running.mark(False)
    await server.start()
    if running.http is not None:
        await running.http.start()
    log.info(
        "listening on %s:%d (%s, %s; NOT_SERVING until models are loaded)",
        settings.host,
        port,
        "plaintext" if credentials is None else "mutual TLS" if settings.tls_client_ca else "TLS",
        "API keys required" if settings.api_keys else "no authentication",
    )
    if settings.preload:
        loop = asyncio.get_running_loop()
        failures = await loop.run_in_executor(parts.executor, parts.engine.preload)
        for failure in failures:
            log.error("model failed to load: %s", failure)
    await running.mark(True)
    log.info("SERVING on %s:%d", settings.host, port)
    return running


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
