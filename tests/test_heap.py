"""The server hands glibc's free heap back after each model load (``heap.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fresh_process import RSS_MB, run_probe
from polybrief.service.heap import glibc

PROBE = (
    RSS_MB
    + r"""
import json, sys
from polybrief.service import heap

# 60 MB in 4 kB blocks (malloc's, not pymalloc's), every 64th kept: the free space lies
# between live blocks, where glibc's own trimming of the heap's top cannot reach it
blocks = [bytes(4096) for _ in range(15000)]
kept = blocks[::64]
del blocks
before = rss_mb()
if sys.argv[1] == "release":
    heap.release_free_memory()
print(json.dumps({"released_mb": before - rss_mb(), "kept": len(kept)}))
"""
)


def released(how: str) -> float:
    return float(run_probe(PROBE, how)["released_mb"])


@pytest.mark.skipif(glibc() is None, reason="malloc_trim is glibc's; this libc has none")
def test_free_heap_pages_go_back_to_the_system() -> None:
    assert released("keep") < 5  # the control: glibc keeps them by itself
    assert released("release") > 40


def test_the_registry_releases_the_heap_after_each_load(
    tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polybrief.service.models import registry as module
    from polybrief.service.server.compose import build_registry
    from polybrief.service.settings import Settings

    calls: list[int] = []
    monkeypatch.setattr(module, "release_free_memory", lambda: calls.append(len(calls)))
    registry = build_registry(Settings(catalog=tiny_dir / "catalog.toml", max_loaded_models=1))
    registry.get("tiny-marian-en-fr")
    registry.get("tiny-marian-en-fr")  # already loaded: nothing freed, nothing to hand back
    assert calls == [0]
    registry.get("tiny-bart")  # the load evicts the first model: both freed, then released
    assert calls == [0, 1]
