"""Runs a real polybrief server (grpc.aio on a real port) in a background event loop,
so synchronous tests and the sync client can talk to it over a real channel."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polybrief.service.engine import Engine
from polybrief.service.server.process import RunningServer, start
from polybrief.service.settings import Settings


class ServerThread:
    """A started server; ``address`` is "127.0.0.1:PORT"."""

    def __init__(self, catalog: Path, **settings: Any) -> None:
        # The quality guards are off unless a test asks for them: most tests check the
        # plumbing against a direct generate, or count batches; tests/test_trust.py and
        # tests/test_cli.py turn them on.
        settings.setdefault("quality_guards", False)
        self.settings = Settings(
            host="127.0.0.1",
            port=0,
            catalog=catalog,
            max_loaded_models=64,
            inference_threads=2,
            **settings,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(start(self.settings), self.loop)
        self.running: RunningServer = future.result(timeout=300)
        self.address = f"127.0.0.1:{self.running.port}"

    @property
    def engine(self) -> Engine:
        return self.running.servicer.engine

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.running.stop(0), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


@contextlib.contextmanager
def running(catalog: Path, **settings: Any) -> Iterator[ServerThread]:
    """A ServerThread for the duration of a ``with`` block (module fixtures use it)."""
    server = ServerThread(catalog, **settings)
    try:
        yield server
    finally:
        server.stop()


def subset_catalog(
    tiny_dir: Path, out: Path, ids: list[str], *, forced_tokens: int | None = None
) -> Path:
    """A catalogue of some tiny models (absolute paths) written to ``out``; with
    ``forced_tokens`` every output is exactly that long, so calls take measurable time."""
    text = (tiny_dir / "catalog.toml").read_text(encoding="utf-8")
    head, *blocks = text.split("[[models]]")
    kept = []
    for block in blocks:
        model_id = block.split('id = "', 1)[1].split('"', 1)[0]
        if model_id not in ids:
            continue
        entry = block.replace('source = "./', f'source = "{tiny_dir}/')
        if forced_tokens is not None:
            entry = entry.replace("max_new_tokens = 12", f"max_new_tokens = {forced_tokens}")
            entry = entry.replace("min_new_tokens = 4", f"min_new_tokens = {forced_tokens}")
        kept.append(entry)
    out.write_text(head + "".join("[[models]]" + b for b in kept), encoding="utf-8")
    return out


def sentences(count: int, start: int = 0) -> str:
    """``count`` distinct English sentences (distinct, so the cache cannot shortcut them)."""
    return " ".join(
        f"Ship number {i} sailed with the allies at dawn." for i in range(start, start + count)
    )


def wait_for(condition: Any, timeout: float, interval: float = 0.02) -> bool:
    """Polls ``condition()`` until it is true or ``timeout`` seconds have passed, and
    returns its last value. ``timeout`` only guards against a hang: a test sizes it from
    what it measured, never from an assumed speed."""
    import time

    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(interval)
    return bool(condition())


def tiny_models(*marian_pairs: str) -> list[str]:
    """One tiny model of each family, the marian ones those of ``marian_pairs`` ("en-fr")."""
    return [
        "tiny-bart",
        "tiny-pegasus",
        "tiny-t5",
        "tiny-mt5",
        *(f"tiny-marian-{pair}" for pair in marian_pairs),
        "tiny-m2m100",
        "tiny-nllb",
        "tiny-mbart50",
    ]
