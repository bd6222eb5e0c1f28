"""polybrief soak run: the real server (a subprocess, tiny models) under mixed load for minutes.

Drives Summarize / Translate / DetectLanguage concurrently over one AsyncClient, with some
bad inputs (INVALID_ARGUMENT expected), some very short deadlines (DEADLINE_EXCEEDED
expected) and some calls cancelled by the caller. Every --interval seconds it prints one
line: elapsed time, calls, outcomes by code, p50/p99 latency of the successful calls of
that interval, the server's RSS and thread count. At the end it prints the RSS drift (last
sample minus the first one after --warmup, MB and %), the slope of the RSS net of the
translation cache in each quarter of the run (a plateau ends near 0 MB/min) and the p99
drift, and exits 1 when the RSS grew more than --rss-threshold percent, any call ended
UNKNOWN or INTERNAL, or the server died or did not exit 0 on SIGTERM.

    python bench/soak.py [--minutes 3] [--concurrency 8] [--rss-threshold 25]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from polybrief import client as pc

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = (ROOT / "examples" / "afp-putin-hollande.txt").read_text(encoding="utf-8")
# fmt: off
WORDS = ["the", "navy", "president", "army", "city", "river", "house", "market", "school",
         "council", "minister", "report", "government", "talks", "week", "attack", "border",
         "support", "people", "country", "leader", "agreement", "press"]
# fmt: on
EXPECTED = {"INVALID_ARGUMENT", "DEADLINE_EXCEEDED"}  # what the bad and rushed calls get
FATAL = {"UNKNOWN", "INTERNAL"}
#: Kinds of call and their weights: short en->fr/ru/es translations, fr->en, summaries
#: (en, or en+fr), language detection, bad inputs, summaries with 1-30 ms deadlines,
#: translations the caller cancels after 2-50 ms.
MIX = "translate=30,translate_back=10,summarize=15,detect=20,bad=8,rushed=10,cancel=7"


def parse_mix(value: str) -> dict[str, float]:
    """{"translate": 30.0, ...} of "translate=30,..."; a kind left out is not called."""
    kinds = [item.split("=")[0] for item in MIX.split(",")]
    mix = {}
    for item in value.split(","):
        name, _, weight = item.partition("=")
        if name.strip() not in kinds:
            raise argparse.ArgumentTypeError(f"unknown kind {name!r}; kinds: {', '.join(kinds)}")
        mix[name.strip()] = float(weight or 1)
    return mix


def polybrief_command() -> str:
    beside = Path(sys.executable).parent / "polybrief-server"
    found = str(beside) if beside.exists() else shutil.which("polybrief-server")
    if found is None:
        sys.exit("soak: the polybrief-server command is not installed (make install)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sentence(rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14)))
    return f"{words.capitalize()} {rng.randint(0, 10**6)}."


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


@dataclass
class Interval:
    """Outcomes of the calls that ended during one reporting interval."""

    codes: collections.Counter[str] = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)

    def add(self, code: str, seconds: float) -> None:
        self.codes[code] += 1
        if code == "OK":
            self.latencies.append(seconds)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Load:
    """The mixed workload; ``current`` collects outcomes until the reporter swaps it."""

    def __init__(self, client: pc.AsyncClient, seed: int, mix: dict[str, float]) -> None:
        self.client = client
        self.mix = mix
        self.rng = random.Random(seed)
        self.current = Interval()
        self.totals: collections.Counter[str] = collections.Counter()
        self.unexpected: collections.Counter[str] = collections.Counter()

    async def _one(self) -> None:
        rng, client = self.rng, self.client
        kind = rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        started = time.perf_counter()
        code = "OK"
        try:
            if kind == "translate":
                texts = [paragraph(rng, rng.randint(1, 4)) for _ in range(rng.randint(1, 4))]
                await client.translate(texts, to=rng.choice(["fr", "ru", "es"]), source="en")
            elif kind == "translate_back":
                await client.translate(f"Le président a parlé {rng.randint(0, 999)} fois.", to="en")
            elif kind == "summarize":
                text = (
                    ARTICLE
                    if rng.random() < 0.3
                    else "\n\n".join(
                        paragraph(rng, rng.randint(2, 6)) for _ in range(rng.randint(2, 6))
                    )
                )
                await client.summarize(text, to=rng.choice([["en"], ["en", "fr"]]), max_words=40)
            elif kind == "detect":
                await client.detect([sentence(rng), "Le président a ordonné à la marine."])
            elif kind == "bad":
                bad: list[Callable[[], Awaitable[object]]] = [
                    lambda: client.translate(["fine", "   "], to="fr"),
                    lambda: client.translate("hello", to="zz_ZZ_bad"),
                    lambda: client.summarize("x" * 100_001),
                    lambda: client.summarize(ARTICLE, max_words=100_000),
                ]
                await rng.choice(bad)()
            elif kind == "rushed":
                await client.summarize(ARTICLE, to=["fr", "ru"], timeout=rng.uniform(0.001, 0.03))
            else:
                texts = [paragraph(rng, 20) for _ in range(3)]
                task = asyncio.ensure_future(client.translate(texts, to="fr", source="en"))
                await asyncio.sleep(rng.uniform(0.002, 0.05))
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    code = "cancelled"
        except pc.PolybriefError as error:
            code = error.code.name
            if code not in EXPECTED:
                details = re.sub(r"request id \w+", "request id …", " ".join(error.details.split()))
                self.unexpected[f"{kind}: {code}: {details[:160]}"] += 1
        self.current.add(code, time.perf_counter() - started)
        self.totals[code] += 1

    async def worker(self, until: float) -> None:
        while time.monotonic() < until:
            await self._one()


@dataclass
class Sample:
    elapsed: float
    rss_mb: float
    threads: int
    p50_ms: float
    p99_ms: float
    cache_mb: float = 0.0  # the translation cache's own count (bounded by POLYBRIEF_CACHE_MB)


def cache_mb(metrics: str) -> float:
    """``polybrief_cache_bytes`` from the server's metrics endpoint, in MB (0 if absent)."""
    import urllib.request

    with (
        contextlib.suppress(OSError, ValueError),
        urllib.request.urlopen(metrics, timeout=5) as answer,
    ):
        for line in answer.read().decode().splitlines():
            if line.startswith("polybrief_cache_bytes "):
                return float(line.split()[1]) / 2**20
    return 0.0


def report_line(sample: Sample, interval: Interval, total_calls: int) -> str:
    codes = " ".join(f"{code}={n}" for code, n in sorted(interval.codes.items()))
    return (
        f"t={sample.elapsed:5.0f}s calls={total_calls:6d} (+{sum(interval.codes.values())}) "
        f"{codes} | ok p50={sample.p50_ms:.0f}ms p99={sample.p99_ms:.0f}ms | "
        f"server rss={sample.rss_mb:.1f}MB (cache {sample.cache_mb:.1f}MB) threads={sample.threads}"
    )


async def soak(
    args: argparse.Namespace, address: str, server: psutil.Process, metrics: str
) -> list[Sample]:
    samples: list[Sample] = []
    started = time.monotonic()
    until = started + args.minutes * 60
    async with pc.AsyncClient(address, timeout=60) as client:
        load = Load(client, args.seed, args.mix)
        workers = [asyncio.ensure_future(load.worker(until)) for _ in range(args.concurrency)]
        next_report = started + args.interval
        while not all(w.done() for w in workers):
            await asyncio.sleep(max(0.0, min(next_report, until) - time.monotonic()))
            now = time.monotonic()
            if now < next_report and now < until:
                continue
            if now >= until:
                await asyncio.gather(*workers)  # calls in progress end (deadline 60 s)
            interval, load.current = load.current, Interval()
            memory = server.memory_info().rss / 2**20
            latencies = interval.latencies
            sample = Sample(
                time.monotonic() - started,
                memory,
                server.num_threads(),
                percentile(latencies, 0.5) * 1000,
                percentile(latencies, 0.99) * 1000,
                cache_mb(metrics),
            )
            samples.append(sample)
            print(report_line(sample, interval, sum(load.totals.values())), flush=True)
            next_report += args.interval
        await asyncio.gather(*workers)
    args.totals, args.unexpected = load.totals, load.unexpected
    return samples


def start_server(args: argparse.Namespace, catalog: Path, log: Path) -> tuple[Any, str, str]:
    port = args.port or free_port()
    metrics_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBRIEF_")}
    env.update(GRPC_VERBOSITY="NONE", POLYBRIEF_LOG_LEVEL="WARNING")
    env.update(item.split("=", 1) for item in args.server_env)
    command = [polybrief_command(), "serve", "--catalog", str(catalog), "--port", str(port)]
    command += ["--metrics-port", str(metrics_port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics"


def lean_catalog(catalog: Path) -> Path:
    """A copy of the tiny ``catalog`` with only the entries of CT2_FAMILIES, each on
    CTranslate2 int8 (converted at first load, in a child process: the server stays lean)."""
    from polybrief.service.models.catalog import CT2_FAMILIES

    head, *entries = catalog.read_text(encoding="utf-8").split("[[models]]")
    kept = []
    for entry in entries:
        family = re.search(r'^family = "([^"]+)"', entry, re.M)
        if family and family.group(1) in CT2_FAMILIES:
            line = family.group(0)
            kept.append(
                entry.replace(line, f'{line}\nbackend = "ctranslate2"\ncompute_type = "int8"', 1)
            )
    lean = catalog.with_name("catalog-lean.toml")
    lean.write_text("[[models]]".join([head, *kept]), encoding="utf-8")
    return lean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the run (3)")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds per line (15)")
    parser.add_argument("--warmup", type=float, default=15.0, help="baseline after (s; 15)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent callers (8)")
    parser.add_argument("--rss-threshold", type=float, default=25.0, help="max RSS growth %% (25)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mix", type=parse_mix, default=parse_mix(MIX),
                        help=f"kinds of call and their weights (default {MIX})")  # fmt: skip
    parser.add_argument(
        "--catalog",
        type=Path,
        help="catalogue to serve (default: tiny models built into a temporary directory)",
    )
    parser.add_argument(
        "--lean",
        action="store_true",
        help="serve the tiny models of the families CTranslate2 runs, on CTranslate2 "
        "(no torch in the server), instead of every tiny model on transformers",
    )
    parser.add_argument("--port", type=int, help="server port (default: a free one)")
    parser.add_argument(
        "--server-log", type=Path, help="keep the server's log in this file (default: temporary)"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the server, e.g. POLYBRIEF_CACHE_MB=8",
    )
    args = parser.parse_args()
    if args.minutes * 60 < args.warmup + args.interval:
        parser.error("--minutes must leave at least one interval after --warmup")
    if any("=" not in item for item in args.server_env):
        parser.error("--server-env takes NAME=VALUE")

    with tempfile.TemporaryDirectory(prefix="polybrief-soak-") as tmp:
        catalog = args.catalog
        if catalog is None:
            subprocess.run([polybrief_command(), "models", "make-tiny", f"{tmp}/tiny"],
                           check=True, capture_output=True)  # fmt: skip
            catalog = Path(tmp) / "tiny" / "catalog.toml"
            if args.lean:
                catalog = lean_catalog(catalog)
        log = args.server_log or Path(tmp) / "server.log"
        process, address, metrics = start_server(args, catalog, log)
        try:
            with pc.Client(address, timeout=10) as client:
                client.wait_until_serving(300)
            print(f"soak: server pid {process.pid} on {address}, {args.concurrency} callers, "
                  f"{args.minutes:g} min, a line every {args.interval:g} s", flush=True)  # fmt: skip
            samples = asyncio.run(soak(args, address, psutil.Process(process.pid), metrics))
            alive = process.poll() is None
        except BaseException:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=60)
            if process.poll() is None:
                process.kill()
        exit_code = process.wait()
        server_log = log.read_text(errors="replace")
    return summarize(args, samples, alive, exit_code, server_log)


def net_slopes(samples: list[Sample], since: float, parts: int = 4) -> list[float]:
    """The RSS net of the translation cache, MB per minute, fitted to each of ``parts``
    equal spans of the run from ``since`` (least squares: one noisy sample moves it little)."""
    kept = [s for s in samples if s.elapsed >= since]
    span = (kept[-1].elapsed - since) / parts
    slopes = []
    for part in range(parts):
        inside = [s for s in kept if since + part * span <= s.elapsed <= since + (part + 1) * span]
        if len(inside) < 3:
            continue
        fit = statistics.linear_regression(
            [s.elapsed / 60 for s in inside], [s.rss_mb - s.cache_mb for s in inside]
        )
        slopes.append(fit.slope)
    return slopes


def summarize(
    args: argparse.Namespace, samples: list[Sample], alive: bool, exit_code: int, log: str
) -> int:
    baseline = next(s for s in samples if s.elapsed >= args.warmup - 1e-6)
    last = samples[-1]
    drift = last.rss_mb - baseline.rss_mb
    drift_pct = 100 * drift / baseline.rss_mb
    p99_pct = 100 * (last.p99_ms - baseline.p99_ms) / baseline.p99_ms if baseline.p99_ms else 0.0
    totals: collections.Counter[str] = args.totals
    fatal = sum(totals[code] for code in FATAL)
    print(f"totals: {sum(totals.values())} calls: "
          + " ".join(f"{code}={n}" for code, n in sorted(totals.items())))  # fmt: skip
    print(f"RSS drift: {baseline.rss_mb:.1f} MB (t={baseline.elapsed:.0f}s) -> "
          f"{last.rss_mb:.1f} MB (t={last.elapsed:.0f}s): {drift:+.1f} MB ({drift_pct:+.1f}%), "
          f"threshold {args.rss_threshold:g}%")  # fmt: skip
    net = drift - (last.cache_mb - baseline.cache_mb)
    half = samples[len(samples) // 2]
    print(f"  of which the translation cache filling: {last.cache_mb - baseline.cache_mb:+.1f} MB "
          f"(to {last.cache_mb:.1f} MB of its budget); the rest {net:+.1f} MB "
          f"({100 * net / baseline.rss_mb:+.1f}%); second half (t={half.elapsed:.0f}s on): "
          f"{last.rss_mb - half.rss_mb:+.1f} MB, {last.rss_mb - last.cache_mb - (half.rss_mb - half.cache_mb):+.1f} MB "
          "net of the cache")  # fmt: skip
    fitted = net_slopes(samples, baseline.elapsed)
    quarters = " ".join(f"{slope:+.2f}" for slope in fitted) or "(too few samples to fit)"
    print(f"  RSS net of the cache, slope by quarter of the run (least squares): {quarters} "
          "MB/min; a plateau ends near 0")  # fmt: skip
    print(f"p99 drift: {baseline.p99_ms:.0f} ms -> {last.p99_ms:.0f} ms ({p99_pct:+.1f}%); "
          f"threads {baseline.threads} -> {last.threads}")  # fmt: skip
    for what, n in args.unexpected.most_common(10):
        print(f"unexpected x{n}: {what}")
    failures = []
    if drift_pct > args.rss_threshold:
        failures.append(f"RSS grew {drift_pct:.1f}% (> {args.rss_threshold:g}%)")
    if fatal:
        failures.append(f"{fatal} calls ended UNKNOWN/INTERNAL")
    if not alive:
        failures.append("the server died during the run")
    if exit_code != 0:
        failures.append(f"the server exited {exit_code} on SIGTERM")
    if failures:
        print("server log (end):\n" + log[-2000:], file=sys.stderr)
    print("soak: " + ("FAIL: " + "; ".join(failures) if failures else "PASS"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
