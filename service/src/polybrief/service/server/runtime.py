"""Process-wide set-up that must happen before models load: hub access, thread counts,
no progress bars in the logs."""

from __future__ import annotations

import ctypes
import logging
import os

from polybrief.service.settings import Settings

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


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
        _cap_malloc_arenas(settings.malloc_arenas)
    # torch (and transformers, which imports it) load at a model's first need, and
    # models.registry.torch_runtime sizes torch's threads then: a server whose models
    # all run on CTranslate2 never imports them (models/lean.py)


def _cap_malloc_arenas(arenas: int) -> None:
    """What MALLOC_ARENA_MAX does, set from inside the process before its pools start
    threads (an operator's MALLOC_ARENA_MAX wins); nothing where libc is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        if libc.mallopt(M_ARENA_MAX, arenas) != 1:
            log.warning("mallopt(M_ARENA_MAX, %d) was refused", arenas)
    except (OSError, AttributeError):
        log.debug("not glibc: malloc arenas left as they are")
