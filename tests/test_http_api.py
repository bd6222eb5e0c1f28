"""The HTTP/JSON API (``--http-port``) through a real server on real ports.

Every endpoint answers the proto3 JSON mapping (parsed back with ``json_format``); the
bad-input catalogue of tests/test_e2e_bad_input.py (the one table) answers the same codes
and BadRequest fields over HTTP; auth with ``Authorization: Bearer``; overload is 429 with
``Retry-After``; the streaming RPCs are Server-Sent Events in the server's order, and an
HTTP client that goes away cancels the call (its queued segments are dropped).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from polybrief.service.middleware.auth import entry_for, new_key
from polybrief.v1 import polybrief_pb2 as pb
from server_harness import ServerThread, running, subset_catalog, wait_for
from test_auth import Pki, pki  # noqa: F401 (the `pki` fixture: a test CA and certificates)
from test_e2e_bad_input import CASES, RESPONSES, TEXT, Case
from test_streaming import Gate, _hold_inference

PATHS = {
    "Summarize": "/v1/briefs",
    "Translate": "/v1/translations",
    "DetectLanguage": "/v1/detections",
}
# The HTTP code each gRPC outcome of the catalogue must have (the table); a body
# over the receive limit is refused by the HTTP layer itself, before any RPC: 413.
HTTP_OF = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def rpc_status(self) -> status_pb2.Status:
        return json_format.Parse(self.body, status_pb2.Status())

    def fields(self) -> tuple[str, ...]:
        for detail in self.rpc_status().details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                return tuple(v.field for v in bad.field_violations)
        return ()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 120,
) -> Answer:
    """One HTTP request over a fresh connection (JSON dicts and strings are sent as JSON)."""
    sent = {"Content-Type": "application/json"} if body is not None else {}
    sent |= headers or {}
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


def as_json(message: Message) -> str:
    return json_format.MessageToJson(message)


def sse_events(lines: Iterator[bytes]) -> Iterator[tuple[str, int | None, bytes]]:
    """(event, id, data) of each Server-Sent Event read from ``lines``."""
    event, ident, data = "message", None, b""
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield event, ident, data
            event, ident, data = "message", None, b""
        elif line.startswith(b"event: "):
            event = line[7:].decode()
        elif line.startswith(b"id: "):
            ident = int(line[4:])
        elif line.startswith(b"data: "):
            data += line[6:]


class Stream:
    """A streaming request held open: ``events`` as they arrive, ``close`` leaves."""

    def __init__(self, port: int, path: str, body: Message, headers: dict[str, str] | None = None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.conn.request(
            "POST",
            path,
            body=as_json(body),
            headers={"Content-Type": "application/json"} | (headers or {}),
        )
        self.response = self.conn.getresponse()
        self.events = sse_events(iter(self.response.readline, b""))

    def close(self) -> None:
        sock = self.conn.sock
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


@pytest.fixture(scope="module")
def server(tiny_dir: Path) -> Iterator[ServerThread]:
    """The whole tiny catalogue with the HTTP port open, without the translation cache
    (every leg runs its model) and with one inference worker (a held batch holds the
    rest of the queue where it is)."""
    settings = {"http_port": 0, "cache_mb": 0, "inference_workers": 1}
    with running(tiny_dir / "catalog.toml", **settings) as started:
        assert started.running.http is not None
        yield started


@pytest.fixture(scope="module")
def port(server: ServerThread) -> int:
    assert server.running.http is not None
    return server.running.http.port


# ------------------------------------------------------------------- every endpoint


def test_capabilities_round_trip_through_json_format(port: int, server: ServerThread) -> None:
    answer = request(port, "GET", "/v1/capabilities")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/json")
    caps = json_format.Parse(answer.body, pb.ListCapabilitiesResponse())
    assert {lang.code for lang in caps.languages} >= {"en", "fr", "ru"}
    assert caps.limits.max_target_languages == server.settings.max_target_languages
    # every field is printed (zeros too) and the printing is the canonical mapping
    again = json_format.MessageToDict(caps, always_print_fields_with_no_presence=True)
    assert answer.json() == again
    assert "maxTargetLanguages" in answer.json()["limits"]


@pytest.mark.parametrize(
    ("path", "body", "response"),
    [
        pytest.param(
            "/v1/translations",
            pb.TranslateRequest(texts=[TEXT, "The ships sailed."], target_language="fr"),
            pb.TranslateResponse,
            id="translations",
        ),
        pytest.param(
            "/v1/detections",
            pb.DetectLanguageRequest(texts=["Bonjour tout le monde, comment allez-vous ?"]),
            pb.DetectLanguageResponse,
            id="detections",
        ),
        pytest.param(
            "/v1/briefs",
            pb.SummarizeRequest(text=TEXT, target_languages=["en", "fr"], source_language="en"),
            pb.SummarizeResponse,
            id="briefs",
        ),
    ],
)
def test_unary_endpoints_answer_what_grpc_answers(
    port: int, server: ServerThread, path: str, body: Message, response: type[Message]
) -> None:
    answer = request(port, "POST", path, as_json(body), {"x-request-id": "http-test-1"})
    assert answer.status == 200, answer.body
    assert answer.headers["x-request-id"] == "http-test-1"
    parsed = json_format.Parse(answer.body, response())
    with grpc.insecure_channel(server.address) as channel:
        method = {v: k for k, v in PATHS.items()}[path]
        call = channel.unary_unary(
            f"/polybrief.v1.Polybrief/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response.FromString,
        )
        direct = call(body, timeout=120)
    assert parsed == direct  # same engine, same result (the tiny models are deterministic)


@pytest.mark.parametrize(
    ("path", "body", "kind", "items"),
    [
        pytest.param(
            "/v1/briefs:stream",
            pb.SummarizeRequest(
                text=TEXT, target_languages=["en", "fr", "ru"], source_language="en"
            ),
            pb.SummarizeEvent,
            3,
            id="briefs",
        ),
        pytest.param(
            "/v1/translations:stream",
            pb.TranslateRequest(
                texts=[TEXT, "One.", "The ships sailed at dawn."], target_language="fr"
            ),
            pb.TranslateEvent,
            3,
            id="translations",
        ),
    ],
)
def test_streams_are_server_sent_events_then_done(
    port: int, path: str, body: Message, kind: type[Message], items: int
) -> None:
    stream = Stream(port, path, body)
    assert stream.response.status == 200
    assert stream.response.getheader("content-type") == "text/event-stream"
    events = list(stream.events)
    stream.close()
    assert [ident for _, ident, _ in events] == list(range(items + 1))
    parsed = [json_format.Parse(data, kind()) for _, _, data in events]
    assert [name for name, _, _ in events] == [e.WhichOneof("event") for e in parsed]
    assert [name for name, _, _ in events][-1] == "done"
    item = "brief" if kind is pb.SummarizeEvent else "translation"
    assert sorted(getattr(e, item).index for e in parsed[:-1]) == list(range(items))


# ---------------------------------------------------------------- the bad-input table


def _json_cases() -> list[Any]:
    """The catalogue rows JSON can carry (raw-byte rows, e.g. invalid UTF-8, cannot be
    written as JSON; the HTTP layer's own bad bodies are tested below)."""
    return [
        pytest.param(case, id=name)
        for name, case in CASES.items()
        if isinstance(case.request, Message) and case.method in PATHS
    ]


@pytest.mark.parametrize("case", _json_cases())
def test_bad_input_catalogue_over_http(port: int, case: Case) -> None:
    assert isinstance(case.request, Message)
    answer = request(port, "POST", PATHS[case.method], as_json(case.request))
    assert answer.status == HTTP_OF[case.code], answer.body[:500]
    if case.code == grpc.StatusCode.OK:
        assert case.check is not None
        case.check(json_format.Parse(answer.body, RESPONSES[case.method]()))
        return
    status = answer.rpc_status()
    assert status.code == case.code.value[0]
    assert answer.fields() == case.fields


def test_bad_input_on_a_stream_is_a_plain_json_error_before_any_event(port: int) -> None:
    body = pb.SummarizeRequest(text=" ", target_languages=["zz"])
    answer = request(port, "POST", "/v1/briefs:stream", as_json(body))
    assert answer.status == 400
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.fields() == ("text", "target_languages[0]")


@pytest.mark.parametrize(
    ("body", "headers", "http", "field"),
    [
        pytest.param(b"{not json", {}, 400, "", id="not-json"),
        pytest.param(b"\xff\xfe{}", {}, 400, "", id="not-utf8"),
        pytest.param(b"[1, 2]", {}, 400, "", id="not-an-object"),
        pytest.param(b'{"txet": "hello"}', {}, 400, "txet", id="unknown-field"),
        pytest.param(b'{"text": 5}', {}, 400, "text", id="wrong-type"),
        pytest.param(
            b'{"text": "hi"}', {"Content-Type": "text/plain"}, 415, "", id="not-json-type"
        ),
    ],
)
def test_bodies_the_http_layer_refuses(
    port: int, body: bytes, headers: dict[str, str], http: int, field: str
) -> None:
    answer = request(port, "POST", "/v1/briefs", body, headers)
    assert answer.status == http, answer.body
    assert answer.rpc_status().code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert answer.fields() == (field,)


def test_unknown_paths_and_methods_are_status_json(port: int) -> None:
    missing = request(port, "GET", "/v1/nothing")
    assert missing.status == 404
    assert missing.rpc_status().code == grpc.StatusCode.NOT_FOUND.value[0]
    wrong = request(port, "GET", "/v1/briefs")
    assert wrong.status == 405
    assert "POST" in wrong.headers["allow"]
    assert request(port, "GET", "/v1/capabilities?bogus=1").status == 400


def test_the_callers_deadline_is_the_calls(port: int) -> None:
    body = pb.SummarizeRequest(text=TEXT * 20, target_languages=["fr", "ru"], source_language="en")
    answer = request(port, "POST", "/v1/briefs", as_json(body), {"grpc-timeout": "1m"})
    assert answer.status == 504, answer.body
    assert answer.rpc_status().code == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
    assert (
        request(port, "POST", "/v1/briefs", as_json(body), {"grpc-timeout": "soon"}).status == 400
    )


def test_openapi_is_generated_from_the_proto(port: int) -> None:
    doc = request(port, "GET", "/v1/openapi.json").json()
    operations = {
        (verb.upper(), path): op["operationId"]
        for path, methods in doc["paths"].items()
        for verb, op in methods.items()
    }
    assert operations == {
        ("POST", "/v1/briefs"): "Summarize",
        ("POST", "/v1/briefs:stream"): "StreamSummarize",
        ("POST", "/v1/translations"): "Translate",
        ("POST", "/v1/translations:stream"): "StreamTranslate",
        ("POST", "/v1/detections"): "DetectLanguage",
        ("GET", "/v1/capabilities"): "ListCapabilities",
    }
    request_schema = doc["components"]["schemas"]["polybrief.v1.SummarizeRequest"]
    # every proto field, under its JSON name, with the proto's comment as its description
    assert set(request_schema["properties"]) == {
        f.json_name for f in pb.SummarizeRequest.DESCRIPTOR.fields
    }
    assert "100,000 characters" in request_schema["properties"]["text"]["description"]
    assert doc["components"]["schemas"]["polybrief.v1.SummaryMode"]["enum"][0] == (
        "SUMMARY_MODE_UNSPECIFIED"
    )
    docs = request(port, "GET", "/docs")
    assert docs.status == 200
    assert b"/static/docs.js" in docs.body


def test_the_page_and_its_assets_need_nothing_from_outside(port: int) -> None:
    page = request(port, "GET", "/")
    assert page.status == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/style.css", "/static/docs.js", "/"):
        body = request(port, "GET", asset).body
        assert b"http://" not in body
        assert b"https://" not in body


# ------------------------------------------------------------------ SSE cancellation


def test_leaving_a_stream_cancels_the_call_and_drops_its_work(
    server: ServerThread, port: int
) -> None:
    """The inference thread is held on the translation legs, so their segments wait in
    the queue; the HTTP client leaves after the first (English) brief: the call is
    cancelled and its queued segments dropped while the inference thread is still held."""
    batcher = server.engine.runner.batcher
    metrics = server.running.metrics.registry
    gate = Gate(guard=120)
    undo = _hold_inference(server, gate, ["tiny-marian-en-fr", "tiny-marian-en-ru"])
    try:
        body = pb.SummarizeRequest(
            text=TEXT + " The fleet sailed at dawn.",
            target_languages=["en", "fr", "ru"],
            source_language="en",
        )
        stream = Stream(port, "/v1/briefs:stream", body)
        name, _, data = next(stream.events)
        assert wait_for(lambda: gate.reached.is_set() and batcher.queued() > 0, 60)
        queued = batcher.queued()
        counted = metrics.get_sample_value(
            "polybrief_dropped_segments_total", {"reason": "cancelled"}
        )
        # one loop serves both: with this stream held open, HTTP and gRPC still answer
        assert request(port, "GET", "/v1/capabilities").status == 200
        with grpc.insecure_channel(server.address) as channel:
            caps = channel.unary_unary(
                "/polybrief.v1.Polybrief/ListCapabilities",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=pb.ListCapabilitiesResponse.FromString,
            )(pb.ListCapabilitiesRequest(), timeout=30)
        assert caps.languages
        stream.close()
        assert wait_for(lambda: batcher.queued() == 0, 60)
        still_held = not gate.is_open
    finally:
        gate.open()
        undo()
    assert name == "brief"
    assert json_format.Parse(data, pb.SummarizeEvent()).brief.brief.language == "en"
    assert still_held
    after = metrics.get_sample_value("polybrief_dropped_segments_total", {"reason": "cancelled"})
    assert after - (counted or 0) == queued
    assert wait_for(lambda: server.running.servicer.inflight == 0, 60)


# ------------------------------------------------------------- auth and overload


@pytest.fixture(scope="module")
def guarded(
    tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerThread, str]]:
    """One model, API keys, one call at a time."""
    folder = tmp_path_factory.mktemp("http-guarded")
    key = new_key()
    keys = folder / "keys.toml"
    keys.write_text(entry_for("editor", key), encoding="utf-8")
    catalog = subset_catalog(tiny_dir, folder / "catalog.toml", ["tiny-marian-en-fr"])
    with running(catalog, http_port=0, api_keys=keys, max_concurrent_calls=1) as started:
        yield started, key


def test_bearer_keys_are_the_grpc_keys(guarded: tuple[ServerThread, str]) -> None:
    server, key = guarded
    assert server.running.http is not None
    port = server.running.http.port
    body = as_json(pb.TranslateRequest(texts=[TEXT], target_language="fr", source_language="en"))
    none = request(port, "POST", "/v1/translations", body)
    assert none.status == 401
    assert none.headers["www-authenticate"].startswith("Bearer")
    assert none.rpc_status().code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    wrong = request(port, "POST", "/v1/translations", body, {"Authorization": "Bearer nope"})
    assert wrong.status == 401
    good = request(port, "POST", "/v1/translations", body, {"Authorization": f"Bearer {key}"})
    assert good.status == 200, good.body
    assert json_format.Parse(good.body, pb.TranslateResponse()).translations[0].text


def test_overload_is_429_with_retry_after(guarded: tuple[ServerThread, str]) -> None:
    """One call is held in inference; the next finds the only slot taken."""
    server, key = guarded
    assert server.running.http is not None
    port = server.running.http.port
    auth = {"Authorization": f"Bearer {key}"}
    body = as_json(
        pb.TranslateRequest(texts=["Held at the gate."], target_language="fr", source_language="en")
    )
    gate = Gate(guard=120)
    undo = _hold_inference(server, gate, ["tiny-marian-en-fr"])
    first: list[Answer] = []
    holder = threading.Thread(
        target=lambda: first.append(request(port, "POST", "/v1/translations", body, auth))
    )
    try:
        holder.start()
        assert wait_for(gate.reached.is_set, 60)
        refused = request(port, "POST", "/v1/translations", body, auth)
    finally:
        gate.open()
        undo()
        holder.join(timeout=120)
    assert refused.status == 429, refused.body
    assert int(refused.headers["retry-after"]) >= 1
    status = refused.rpc_status()
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)
    assert first[0].status == 200  # the held call was unaffected


def test_http_calls_are_counted_as_grpc_calls(guarded: tuple[ServerThread, str]) -> None:
    server, _ = guarded
    assert server.running.http is not None
    metrics = server.running.metrics.registry
    labels = {"rpc": "ListCapabilities", "code": "UNAUTHENTICATED"}
    before = metrics.get_sample_value("polybrief_requests_total", labels) or 0
    assert request(server.running.http.port, "GET", "/v1/capabilities").status == 401
    # counted once the call's interceptor has finished, just after the answer was sent;
    # the guard only catches a count that never comes
    assert wait_for(
        lambda: metrics.get_sample_value("polybrief_requests_total", labels) != before, 120
    )


def test_http_costs_about_what_grpc_costs(server: ServerThread, port: int) -> None:
    """A cached Translate over HTTP stays within a small multiple of the same call over
    gRPC (a response split into writes without TCP_NODELAY once cost +40 ms a call)."""
    body = pb.TranslateRequest(
        texts=["Short and cached."], target_language="fr", source_language="en"
    )
    text, headers = as_json(body), {"Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    with grpc.insecure_channel(server.address) as channel:
        call = channel.unary_unary(
            "/polybrief.v1.Polybrief/Translate",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=pb.TranslateResponse.FromString,
        )
        over_grpc, over_http = [], []
        for _ in range(25):
            started = time.perf_counter()
            call(body, timeout=60)
            over_grpc.append(time.perf_counter() - started)
            started = time.perf_counter()
            conn.request("POST", "/v1/translations", body=text, headers=headers)
            assert conn.getresponse().read()
            over_http.append(time.perf_counter() - started)
    conn.close()
    assert min(over_http) < 5 * min(over_grpc) + 0.002


def _get(conn: http.client.HTTPConnection, path: str) -> int:
    conn.request("GET", path)
    return conn.getresponse().status


def test_tls_and_client_certificates_apply_to_the_http_port(
    tiny_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pki: Pki,  # noqa: F811
) -> None:
    """With mutual TLS on, the HTTP port is HTTPS and wants a client certificate too (the
    transcoder reaches gRPC over its private unix socket)."""
    catalog = subset_catalog(
        tiny_dir, tmp_path_factory.mktemp("tls") / "c.toml", ["tiny-marian-en-fr"]
    )
    settings = {"tls_cert": pki.server_cert, "tls_key": pki.server_key, "tls_client_ca": pki.ca}
    with running(catalog, http_port=0, **settings) as server:
        assert server.running.http is not None
        port = server.running.http.port
        trusted = ssl.create_default_context(cafile=str(pki.ca))
        trusted.load_cert_chain(str(pki.client_cert), str(pki.client_key))
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=trusted, timeout=60)
        conn.request("GET", "/v1/capabilities")
        assert conn.getresponse().status == 200
        conn.close()
        anonymous = ssl.create_default_context(cafile=str(pki.ca))
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=anonymous, timeout=60)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _get(conn, "/v1/capabilities")
        conn.close()
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            request(port, "GET", "/v1/capabilities")


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_drain_lets_http_calls_in_flight_finish(
    tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """What SIGTERM does (``RunningServer.stop(grace)``): the HTTP port stops taking
    connections at once, and a call in flight still gets its answer."""
    catalog = subset_catalog(
        tiny_dir, tmp_path_factory.mktemp("drain") / "c.toml", ["tiny-marian-en-fr"]
    )
    server = ServerThread(catalog, http_port=0)
    assert server.running.http is not None
    port = server.running.http.port
    body = as_json(
        pb.TranslateRequest(
            texts=["Held while draining."], target_language="fr", source_language="en"
        )
    )
    gate = Gate(guard=120)
    undo = _hold_inference(server, gate, ["tiny-marian-en-fr"])
    answers: list[Answer] = []
    holder = threading.Thread(
        target=lambda: answers.append(request(port, "POST", "/v1/translations", body))
    )
    try:
        holder.start()
        assert wait_for(gate.reached.is_set, 60)
        stopping = asyncio.run_coroutine_threadsafe(server.running.stop(60), server.loop)
        refused = wait_for(lambda: _refused(port), 30)
        in_time = not stopping.done()
    finally:
        gate.open()
        undo()
        holder.join(timeout=120)
    stopping.result(timeout=120)
    server.loop.call_soon_threadsafe(server.loop.stop)
    server.thread.join(timeout=30)
    server.loop.close()
    assert refused
    assert in_time  # the drain waited for the held call
    assert answers[0].status == 200, answers[0].body
    assert json_format.Parse(answers[0].body, pb.TranslateResponse()).translations[0].text
