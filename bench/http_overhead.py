"""What the HTTP/JSON layer adds over gRPC for one Translate call, side by side.

One server process (tiny models, ``--http-port``), one client process: the same
TranslateRequest (one sentence, en→fr) sent alternately over a kept-alive gRPC channel
(the generated stub) and a kept-alive HTTP/1.1 connection (JSON), so both see the same
machine state. With the translation cache on (the default) every call after the first is
a cache hit and the figures are the transports and the pipeline around the model; with
``--cache-mb 0`` the tiny model runs each time.

    python bench/http_overhead.py [--calls 300] [--cache-mb 0]
"""

from __future__ import annotations

import argparse
import http.client
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf import json_format
from polybrief.v1 import polybrief_pb2 as pb
from polybrief.v1 import polybrief_pb2_grpc as pb_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import served

TEXT = "President Vladimir Putin on Tuesday ordered the Russian navy to work with the French."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, limit_s: float = 300) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/v1/capabilities")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[int(len(ms) * 0.9)]
    return f"| {name} | {ms[0]:.2f} | {statistics.median(ms):.2f} | {p90:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per transport")
    parser.add_argument("--cache-mb", default="64", help="POLYBRIEF_CACHE_MB of the server")
    args = parser.parse_args()

    from polybrief.service.models.tiny import make_tiny

    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    make_tiny(work)
    grpc_port, http_port = free_port(), free_port()
    env = {"http_port": str(http_port), "cache_mb": args.cache_mb, "quality_guards": "false"}
    request = pb.TranslateRequest(texts=[TEXT], target_language="fr", source_language="en")
    body = json_format.MessageToJson(request).encode()
    headers = {"Content-Type": "application/json"}
    with served(work / "catalog.toml", grpc_port, **env) as (address, _process):
        wait_ready(http_port)
        channel = grpc.insecure_channel(address)
        stub = pb_grpc.PolybriefStub(channel)
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=60)

        def over_grpc() -> float:
            started = time.perf_counter()
            stub.Translate(request, timeout=60)
            return time.perf_counter() - started

        def over_http() -> float:
            started = time.perf_counter()
            conn.request("POST", "/v1/translations", body=body, headers=headers)
            answer = conn.getresponse()
            json_format.Parse(answer.read(), pb.TranslateResponse())
            if answer.status != 200:
                raise SystemExit(f"HTTP {answer.status}")
            return time.perf_counter() - started

        for _ in range(20):  # warm both paths (and the cache)
            over_grpc()
            over_http()
        grpc_s, http_s = [], []
        for _ in range(args.calls):
            grpc_s.append(over_grpc())
            http_s.append(over_http())
        conn.close()
        channel.close()
    print(f"Translate, one sentence en→fr, {args.calls} calls each, cache_mb={args.cache_mb}")
    print("| path | min ms | median ms | p90 ms |")
    print("|---|---|---|---|")
    print(summary("gRPC (stub)", grpc_s))
    print(summary("HTTP/JSON (transcoded)", http_s))
    added = statistics.median(http_s) - statistics.median(grpc_s)
    print(
        f"HTTP adds {added * 1000:.2f} ms at the median ({min(http_s) / min(grpc_s):.2f}x at min)"
    )


if __name__ == "__main__":
    main()
