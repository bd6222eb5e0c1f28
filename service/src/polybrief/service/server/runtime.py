"""Process-wide set-up that must happen before models load: hub access, thread counts,
no progress bars in the logs."""

from __future__ import annotations

import os

from polybrief.service.heap import cap_arenas
from polybrief.service.settings import Settings


def configure_runtime(settings: Settings) -> None:
    """Offline unless downloads are allowed; no progress bars; torch is not imported here.

    Sets environment variables with ``setdefault`` so that an operator's own choice wins;
    it must run before huggingface_hub reads them (at its import).
    """
    if not settings.allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # progress bars would interleave with the JSON log lines on stderr
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Intel MKL (CTranslate2's CPU GEMM on Intel) otherwise keeps its own cache of
    # buffers: with that cache off, the benchmark server's c64 peak RSS was 10-20 MB
    # lower at the same tokens/s (paired runs); read when MKL loads (first CT2 model)
    os.environ.setdefault("MKL_DISABLE_FAST_MM", "1")
    if settings.malloc_arenas and "MALLOC_ARENA_MAX" not in os.environ:
        cap_arenas(settings.malloc_arenas)
    # torch (and transformers, which imports it) load at a model's first need, and
    # models.registry.torch_runtime sizes torch's threads then: a server whose models
    # all run on CTranslate2 never imports them (models/lean.py)
