"""The HTTP server's life: uvicorn serving the Starlette app as a task on the gRPC
server's own event loop, talking to that server over a private unix socket.

Why uvicorn + Starlette: both are maintained, typed, asyncio-native and small; uvicorn's
``Server.serve()`` runs as a task on an already running loop (no thread, no second loop),
so HTTP requests and gRPC calls interleave on one loop and the blocking work stays on the
engine's threads for both. Starlette gives routing, static files and exception handlers
without a framework's own validation layer (validation is the gRPC one).

Why a unix socket: the transcoder's calls go through the whole gRPC stack (interceptors:
request ids, access logs, metrics, auth and quotas; admission; validation), so each rule
exists once. The socket lives in a fresh 0700 directory, so only this user reaches it;
it works whatever TLS the public port uses, and the HTTP port applies the same TLS
(and client-certificate requirement) itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import uvicorn
from polybrief.service.http.app import build_app
from polybrief.service.settings import Settings

log = logging.getLogger(__name__)


def bind_internal(server: grpc.aio.Server) -> str:
    """Adds a private unix-socket port to ``server`` (before it starts); its target."""
    folder = tempfile.mkdtemp(prefix="polybrief-")  # mode 0700
    target = f"unix:{Path(folder) / 'grpc.sock'}"
    server.add_insecure_port(target)
    return target


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: the process's SIGTERM drains both servers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without, a response's header and body writes
    # meet the client's delayed ACK (+40 ms a call)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class HttpServer:
    """A started HTTP server: ``port`` is the bound port (useful with port 0)."""

    def __init__(self, settings: Settings, target: str) -> None:
        self.settings = settings
        self.target = target
        self.channel = grpc.aio.insecure_channel(
            target,
            options=[
                ("grpc.max_receive_message_length", settings.max_send_message_bytes),
                ("grpc.max_send_message_length", -1),
            ],
        )
        tls: dict[str, object] = {}
        if settings.tls_cert is not None and settings.tls_key is not None:
            tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
            if settings.tls_client_ca is not None:
                tls |= {
                    "ssl_ca_certs": str(settings.tls_client_ca),
                    "ssl_cert_reqs": ssl.CERT_REQUIRED,
                }
        config = uvicorn.Config(
            build_app(self.channel, settings),
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=int(settings.grace_seconds) + 1,
            **tls,  # type: ignore[arg-type]
        )
        self.server = _Uvicorn(config)
        self.socket = _listen(settings.host, settings.http_port or 0)
        self.port: int = self.socket.getsockname()[1]
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self.server.serve(sockets=[self.socket]))
        while not self.server.started:
            if self.task.done():
                self.task.result()  # raises what stopped it
                raise RuntimeError("HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        scheme = "https" if self.settings.tls_cert else "http"
        log.info("HTTP/JSON API and web page on %s://%s:%d/", scheme, self.settings.host, self.port)

    def begin_stop(self) -> None:
        """Stops accepting connections; requests in flight finish (their RPCs drain with
        the gRPC server's)."""
        self.server.should_exit = True

    async def stopped(self, grace: float | None) -> None:
        """Waits for the server to finish (cut after ``grace`` + 1 s), then closes the channel."""
        self.begin_stop()
        if self.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.task), (grace or 0) + 1)
            except TimeoutError:
                self.server.force_exit = True
                await self.task
        await self.channel.close()
        shutil.rmtree(Path(self.target.removeprefix("unix:")).parent, ignore_errors=True)
