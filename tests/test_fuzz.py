"""The atheris fuzz target runs clean for a bounded number of iterations.

``fuzz/fuzz_requests.py`` fuzzes request decoding, validation and the text pipeline
in-process (no server, no models). Here it runs as a subprocess, as one would run it by
hand, on a copy of the seed corpus; libFuzzer's own summary says how many inputs ran.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "fuzz" / "fuzz_requests.py"
SEEDS = ROOT / "fuzz" / "corpus"
RUNS = 4_000
DONE = re.compile(r"^Done (\d+) runs in \d+ second", re.MULTILINE)
SEEDED = re.compile(r"^INFO: seed corpus: files: (\d+) ", re.MULTILINE)
INITED = re.compile(r"^#\d+\s+INITED cov: (\d+) ", re.MULTILINE)


def _fuzz(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    corpus = tmp_path / "corpus"  # libFuzzer adds what it finds to the first directory
    shutil.copytree(SEEDS, corpus)
    return subprocess.run(
        [sys.executable, str(TARGET), str(corpus), *flags, f"-artifact_prefix={tmp_path}/"],
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard only: the runs take tens of seconds
        check=False,
        cwd=tmp_path,
    )


def test_fuzz_target_runs_clean(tmp_path: Path) -> None:
    """A fixed seed and a bounded number of runs: reproducible for a given code version."""
    result = _fuzz(tmp_path, f"-runs={RUNS}", "-seed=1", "-max_len=4096", "-timeout=20")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    done = DONE.search(output)
    assert done, output[-4000:]
    assert int(done.group(1)) == RUNS
    # The seeds were read, and the instrumented polybrief code reports coverage.
    seeded, inited = SEEDED.search(output), INITED.search(output)
    assert seeded, output[-4000:]
    assert int(seeded.group(1)) == len(list(SEEDS.iterdir()))
    assert inited, output[-4000:]
    assert int(inited.group(1)) > 0
    assert not list(tmp_path.glob("crash-*")), output[-4000:]
    assert not list(tmp_path.glob("timeout-*")), output[-4000:]
