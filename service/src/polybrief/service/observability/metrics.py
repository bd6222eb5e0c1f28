"""Prometheus metrics, served on their own port (``POLYBRIEF_METRICS_PORT``).

Series (all prefixed ``polybrief_``):
  requests_total{rpc,code}              finished calls by final status code
  request_seconds{rpc}                  call latency (histogram)
  input_characters_total{rpc}           characters received in texts
  inflight_calls                        calls admitted and running
  queued_segments                       segments waiting for the inference thread
  batch_size{model,task}                segments per inference batch (histogram)
  batch_seconds{model,task}             inference time per batch (histogram)
  tokens_total{model,direction}         tokens read (in) and generated (out)
  cache_hits_total / cache_misses_total translation cache lookups
  cache_bytes                           translation cache size
  model_load_seconds{model,outcome}     model load time, ok or failed (histogram)
  warnings_total{model,code}            quality warnings on outputs (REPETITION, ...)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from polybrief.service.cache import CacheStats
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
LOAD_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


class _CacheCollector(Collector):
    def __init__(self, stats: Callable[[], CacheStats]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        stats = self.stats()
        yield CounterMetricFamily(
            "polybrief_cache_hits", "Translation cache hits.", value=stats.hits
        )
        yield CounterMetricFamily(
            "polybrief_cache_misses", "Translation cache misses.", value=stats.misses
        )
        yield GaugeMetricFamily(
            "polybrief_cache_bytes", "Translation cache size in bytes.", value=stats.bytes
        )


class Metrics:
    """The server's metrics; also the engine's Telemetry (batches, tokens, model loads)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()

        def histogram(name: str, doc: str, labels: list[str], buckets: Any) -> Histogram:
            return Histogram(f"polybrief_{name}", doc, labels, buckets=buckets, registry=r)

        self.requests = Counter(
            "polybrief_requests", "Finished calls.", ["rpc", "code"], registry=r
        )
        self.latency = histogram("request_seconds", "Call latency.", ["rpc"], LATENCY_BUCKETS)
        self.characters = Counter(
            "polybrief_input_characters", "Characters received.", ["rpc"], registry=r
        )
        self.inflight = Gauge("polybrief_inflight_calls", "Calls running.", registry=r)
        self.queued = Gauge(
            "polybrief_queued_segments", "Segments waiting for inference.", registry=r
        )
        by_model = ["model", "task"]
        self.batch_size = histogram("batch_size", "Segments per batch.", by_model, BATCH_BUCKETS)
        self.batch_seconds = histogram(
            "batch_seconds", "Inference time per batch.", by_model, LATENCY_BUCKETS
        )
        self.tokens = Counter(
            "polybrief_tokens", "Tokens read and generated.", ["model", "direction"], registry=r
        )
        self.warnings = Counter(
            "polybrief_warnings", "Quality warnings on outputs.", ["model", "code"], registry=r
        )
        self.dropped = Counter(
            "polybrief_dropped_segments",
            "Queued segments dropped unrun: their call was cancelled or its deadline passed.",
            ["reason"],
            registry=r,
        )
        self.model_load = histogram(
            "model_load_seconds", "Model load time.", ["model", "outcome"], LOAD_BUCKETS
        )

    def watch(
        self,
        *,
        queued: Callable[[], int],
        inflight: Callable[[], int],
        cache: Callable[[], CacheStats],
    ) -> None:
        """Reads these gauges from the running server at scrape time."""
        self.queued.set_function(lambda: float(queued()))
        self.inflight.set_function(lambda: float(inflight()))
        self.registry.register(_CacheCollector(cache))

    def observe_call(self, rpc: str, code: str, seconds: float, characters: int) -> None:
        self.requests.labels(rpc, code).inc()
        self.latency.labels(rpc).observe(seconds)
        if characters:
            self.characters.labels(rpc).inc(characters)

    # Telemetry
    def batch_done(
        self, model: str, task: str, size: int, tokens_in: int, tokens_out: int, seconds: float
    ) -> None:
        self.batch_size.labels(model, task).observe(size)
        self.batch_seconds.labels(model, task).observe(seconds)
        self.tokens.labels(model, "in").inc(tokens_in)
        self.tokens.labels(model, "out").inc(tokens_out)

    def model_loaded(self, model: str, seconds: float, ok: bool) -> None:
        self.model_load.labels(model, "ok" if ok else "failed").observe(seconds)

    def output_warned(self, model: str, code: str) -> None:
        self.warnings.labels(model, code).inc()

    def segments_dropped(self, count: int, reason: str) -> None:
        self.dropped.labels(reason).inc(count)

    def serve(self, host: str, port: int) -> tuple[Any, int]:
        """Starts the /metrics HTTP endpoint; returns the server and its port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server, int(server.server_port)
