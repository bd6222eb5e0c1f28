"""torch, as polybrief sizes it (``registry.torch_runtime``), keeps no compiled kernel per
input shape.

On CPU torch runs fp32 GELU (BART, mBART, PEGASUS) through oneDNN, which JIT-compiles a
kernel for each new shape and caches up to 1,024 of them: every new batch and length of
a long-lived server added one, the soak's drift with transformers models. Each case runs
in a fresh process, calls GELU on 320 shapes and measures the process's anonymous
executable memory (where the JIT code lives) and its RSS; the control (torch as it
imports) must show the growth, or the case says torch changed.
"""

from __future__ import annotations

import pytest
from fresh_process import RSS_MB, run_probe

PROBE = (
    RSS_MB
    + r"""
import json, sys
import torch

def jit_mb():
    total = 0
    for line in open("/proc/self/maps"):
        fields = line.split()
        if "x" in fields[1] and len(fields) < 6:  # executable, no file behind it
            start, end = (int(v, 16) for v in fields[0].split("-"))
            total += end - start
    return total / 2**20

torch.manual_seed(0)
x = torch.randn(8 * 40 * 256)
reference = torch.nn.functional.gelu(x.view(8, 40, 256))  # as torch imports (oneDNN)
if sys.argv[1] == "polybrief":
    from polybrief.service.models.registry import torch_runtime
    torch_runtime(1)
torch.nn.functional.gelu(x.view(8, 40, 256))
jit, rss = jit_mb(), rss_mb()
for batch in range(1, 9):
    for length in range(1, 41):
        torch.nn.functional.gelu(x[: batch * length * 256].view(batch, length, 256))
same = torch.allclose(torch.nn.functional.gelu(x.view(8, 40, 256)), reference, rtol=0, atol=1e-5)
print(json.dumps({"jit_mb": jit_mb() - jit, "rss_mb": rss_mb() - rss, "same": same}))
"""
)


def test_torch_as_polybrief_sizes_it_keeps_no_kernel_per_shape() -> None:
    control, fixed = run_probe(PROBE, "control"), run_probe(PROBE, "polybrief")
    if control["jit_mb"] < 5:
        pytest.fail(
            f"torch no longer JIT-compiles GELU per shape ({control}): the setting "
            "in registry.torch_runtime may no longer be needed"
        )
    assert fixed["jit_mb"] < 1, fixed
    # RSS also counts glibc keeping the freed outputs (~5 MB here): a relation, not a size
    assert fixed["rss_mb"] + 5 < control["rss_mb"], (control, fixed)
    # the two kernels round differently: up to 1.2e-6 apart over 20 seeds, a few float32 ulps
    assert fixed["same"], "GELU without oneDNN gave other values than with it"
