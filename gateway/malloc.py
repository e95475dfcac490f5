"""The C allocator's arenas of a long-running gateway process (glibc only).

glibc gives threads their own malloc arenas (up to eight per core). A thread that works on large data for a while
(the key writer of a large interchange on PostgreSQL, the inbound worker threads, the hand-off sweep) leaves pages
touched in its arena that the process keeps: on the 100 MB file on PostgreSQL, peak RSS 149-150 MB with the default
against 146 MB with two arenas (bench/results/e2e-round4.txt). Python's own allocator serves small objects from
its arenas whatever this says; the setting concerns the large buffers (lists of rows, driver buffers).

``MALLOC_ARENA_MAX`` in the environment (an operator's choice) is left alone; elsewhere than glibc nothing happens.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap the arenas of threads started from now on; True if the cap was set."""
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
