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
def served(
    catalog: Path | None, port: int, *, extra_env: dict[str, str] | None = None, **env: str
) -> Iterator[tuple[str, psutil.Process]]:
    """``polybrief-server serve`` over ``catalog`` (None: the default catalogue) on
    ``port`` with ``POLYBRIEF_*`` settings from ``env`` (``cache_mb="0"`` →
    ``POLYBRIEF_CACHE_MB=0``) and other variables from ``extra_env``; yields its address
    and process, and stops it afterwards."""
    settings = {f"POLYBRIEF_{key.upper()}": value for key, value in env.items()}
    command = [str(Path(sys.executable).parent / "polybrief-server"), "serve", "--port", str(port)]
    if catalog is not None:
        command += ["--catalog", str(catalog)]
    server = subprocess.Popen(
        command,
        env={**os.environ, "POLYBRIEF_LOG_LEVEL": "WARNING", **settings, **(extra_env or {})},
    )
    try:
        yield f"127.0.0.1:{port}", psutil.Process(server.pid)
    finally:
        server.terminate()
        server.wait(30)
