"""What the token cap per CTranslate2 pass costs: tokens/s and peak RSS of one batch of 64
news sentences on the benchmark model (opus-mt-en-fr's shape, int8), for each cap given.

Each cap runs in a fresh process (peaks do not carry over); the batch is timed 3 times
and RSS sampled every 5 ms. This is where POLYBRIEF_MAX_BATCH_TOKENS's default comes from.

    python bench/passes.py [CAP ...]        (0: uncapped; default: 0 2048 1024)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
WORK = Path(tempfile.gettempdir()) / "polybrief-bench"


def measure(cap: int) -> str:
    """One line of figures for ``cap`` source tokens per pass (0: one pass)."""
    sys.path.insert(0, str(HERE))
    import models
    import run

    os.environ.setdefault("POLYBRIEF_CT2_CACHE", str(WORK / "ct2"))
    engine = run.Engine(models.marian_base(models.marian_dir(WORK)), run.sentences(64))
    me = psutil.Process()
    engine.translator.translate_batch(engine.tokens[:4], **engine.options)
    base = me.memory_info().rss
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, me.memory_info().rss)
            time.sleep(0.005)

    threading.Thread(target=sample, daemon=True).start()
    capped = {"max_batch_size": cap, "batch_type": "tokens"} if cap else {}
    times = []
    for _ in range(3):
        began = time.perf_counter()
        engine.translator.translate_batch(engine.tokens, **engine.options, **capped)
        times.append(time.perf_counter() - began)
    done.set()
    tokens = sum(len(t) for t in engine.tokens)
    out = len(engine.tokens) * run.OUT_TOKENS
    return (
        f"| {cap or 'uncapped'} | {tokens} | {out / statistics.median(times):.0f} | "
        f"{out / min(times):.0f} | +{(peak - base) / 2**20:.0f} |"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(measure(int(sys.argv[2])))
        return
    caps = [int(a) for a in sys.argv[1:]] or [0, 2048, 1024]
    print("| tokens per pass | source tokens | tok/s median | tok/s best | peak MB above idle |")
    print("|---|---|---|---|---|")
    for cap in caps:
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(cap)],
            check=False,
            capture_output=True,
            text=True,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("|")]
        print(lines[-1] if lines else f"| {cap} | failed: {done.stderr[-300:]} |", flush=True)


if __name__ == "__main__":
    main()
