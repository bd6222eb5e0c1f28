"""A polybrief server in its own process, for the benchmarks (the process being measured
is not the one measuring)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil


@contextlib.contextmanager
def served(catalog: Path, port: int, **env: str) -> Iterator[tuple[str, psutil.Process]]:
    """``polybrief-server serve`` over ``catalog`` on ``port`` with ``POLYBRIEF_*``
    settings from ``env`` (``cache_mb="0"`` → ``POLYBRIEF_CACHE_MB=0``); yields its
    address and process, and stops it afterwards."""
    settings = {f"POLYBRIEF_{key.upper()}": value for key, value in env.items()}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "polybrief-server"),
            "serve",
            "--port",
            str(port),
            "--catalog",
            str(catalog),
        ],
        env={**os.environ, "POLYBRIEF_LOG_LEVEL": "WARNING", **settings},
    )
    try:
        yield f"127.0.0.1:{port}", psutil.Process(server.pid)
    finally:
        server.terminate()
        server.wait(30)
