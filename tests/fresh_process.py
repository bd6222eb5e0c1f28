"""Probes that measure memory run in a fresh interpreter, so that nothing an earlier test
loaded or cached counts: ``run_probe`` runs a snippet and returns the JSON object it
printed last; ``RSS_MB`` is a snippet defining ``rss_mb()`` for such probes."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

RSS_MB = """
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
"""


def run_probe(source: str, *args: str, timeout: float = 300) -> dict[str, Any]:
    """``python -c source *args``; fails the test with the probe's stderr if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", source, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
