"""``limit_arenas``: threads started after it share at most two glibc malloc arenas (counted by ``malloc_info``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.malloc import limit_arenas

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

SCRIPT = r"""
import ctypes, sys, threading
from gateway.malloc import limit_arenas
if sys.argv[1] == "limit":
    assert limit_arenas()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
barrier = threading.Barrier(8)
def work():
    held = [libc.malloc(4096) for _ in range(64)]  # below the mmap threshold: from the thread's arena
    barrier.wait()  # all eight hold memory at once
    for p in held:
        libc.free(p)
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
f = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, f)
libc.fclose(f)
"""


def _arenas(tmp_path: Path, mode: str) -> int:
    out = tmp_path / f"{mode}.xml"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    subprocess.run([sys.executable, "-c", SCRIPT, mode, str(out)], check=True, env=env, timeout=60)
    return out.read_text().count("<heap nr=")


def test_threads_share_two_arenas_once_limited(tmp_path: Path) -> None:
    if "libc.so" not in Path("/proc/self/maps").read_text():
        pytest.skip("not glibc")
    assert _arenas(tmp_path, "default") > 2  # eight threads holding memory at once get arenas of their own
    assert _arenas(tmp_path, "limit") <= 2


def test_an_operators_setting_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas() is False
