"""glibc's malloc, tuned from inside the process; nothing happens where libc is not glibc."""

from __future__ import annotations

import ctypes
import functools
import logging

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


@functools.cache
def glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc, else None (looked up once)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def cap_arenas(arenas: int) -> None:
    """What MALLOC_ARENA_MAX does, set before the server's pools start threads."""
    libc = glibc()
    if libc is None:
        log.debug("not glibc: malloc arenas left as they are")
    elif libc.mallopt(M_ARENA_MAX, arenas) != 1:
        log.warning("mallopt(M_ARENA_MAX, %d) was refused", arenas)


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system (``malloc_trim``).

    Loading a model frees most of what it allocated (file buffers, conversions), but glibc
    keeps those pages: at SERVING the benchmark's server held 38 MB of them (231 MB RSS,
    193 MB after this call, which took 1-7 ms).
    """
    libc = glibc()
    if libc is not None:
        libc.malloc_trim(0)
