"""The Starlette application: one route per ``google.api.http`` rule (the transcoder),
the OpenAPI document, its docs page and the editors' page, all from this package."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import grpc
from google.rpc import code_pb2, status_pb2
from polybrief.service.http.openapi import openapi
from polybrief.service.http.rules import rules
from polybrief.service.http.transcode import Endpoint, send_status
from polybrief.service.middleware.observe import request_id
from polybrief.service.settings import Settings
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
# The page and docs load only their own files and call only this origin.
_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class _StatusError(Response):
    """An HTTP-level refusal (no such path, wrong method) as a google.rpc.Status."""

    def __init__(self, http: int, code: int, message: str, allow: str = "") -> None:
        super().__init__()
        self.http, self.status, self.allow = (
            http,
            status_pb2.Status(code=code, message=message),
            allow,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and self.allow:
                message["headers"] = [*message["headers"], (b"allow", self.allow.encode())]
            await send(message)

        rid = request_id(())
        await send_status(with_allow, self.status, rid, http=self.http)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allow = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow", "")
        return _StatusError(
            405, code_pb2.UNIMPLEMENTED, f"{request.method} is not allowed here", allow
        )
    if exc.status_code == 404:
        return _StatusError(404, code_pb2.NOT_FOUND, f"no such path: {request.url.path}")
    return _StatusError(exc.status_code, code_pb2.UNKNOWN, str(exc.detail))


def _version() -> str:
    try:
        return importlib.metadata.version("polybrief-service")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def build_app(channel: grpc.aio.Channel, settings: Settings) -> ASGIApp:
    """The whole HTTP application over ``channel`` (the process's own gRPC server)."""
    document = openapi(_version())
    routes: list[BaseRoute] = [
        Route(
            rule.path,
            Endpoint(rule, channel, settings.max_receive_message_bytes),
            methods=[rule.verb],
        )
        for rule in rules()
    ]

    async def spec(request: Request) -> Response:
        return JSONResponse(document)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def docs(request: Request) -> Response:
        return FileResponse(STATIC / "docs.html")

    routes += [
        Route("/v1/openapi.json", spec, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/", page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    return _SecurityHeaders(app)
