"""Where received AS2 bodies wait while they are parsed: spool files and folders named
``as2-<host>-<pid>-<random>`` in the receiver's spool folder (``<data_dir>/spool`` under ``gateway serve``).

A request removes its own when it ends; a process killed mid-request leaves them behind, so :func:`clean` runs at
start and removes this host's entries whose process is gone, and any entry older than a day (another host
sharing the folder, or an older name).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

from gateway.store.archive import pid_alive

PREFIX = "as2-"
STALE_SECONDS = 24 * 3600.0


def _host() -> str:
    return socket.gethostname().replace("-", "_")[:40]


def spool_prefix() -> str:
    return f"{PREFIX}{_host()}-{os.getpid()}-"


def clean(folder: Path, *, stale_seconds: float = STALE_SECONDS) -> list[Path]:
    """Remove what crashed requests left in ``folder``; returns what went."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    host, now = _host(), time.time()
    for path in folder.glob(f"{PREFIX}*"):
        parts = path.name[len(PREFIX) :].split("-")
        mine = len(parts) >= 3 and parts[0] == host and parts[1].isdigit()
        try:
            old = now - path.stat().st_mtime > stale_seconds
        except FileNotFoundError:
            continue
        if (mine and int(parts[1]) != os.getpid() and not pid_alive(int(parts[1]))) or (not mine and old):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed
