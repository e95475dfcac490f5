"""The cores this process may use: what ``inbound_processes: auto`` counts.

``os.cpu_count()`` counts the machine's cores, not this process's: a container limited to two cores of a 32-core
host would start 32 processes fighting for two. This module takes the smallest of the cores the process may run on
(its CPU affinity, ``os.sched_getaffinity``: ``taskset``, a cpuset, Docker's ``--cpuset-cpus``) and the cgroup v2
CPU quota (``cpu.max``: Docker's ``--cpus``, Kubernetes' CPU limit), rounded down, at least one.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

AUTO_MAX_PROCESSES = 4  # "auto" never starts more: measured on two cores only (docs/operations.md)
CGROUP_ROOT = Path("/sys/fs/cgroup")


def quota_cores(cgroup_line: str, root: Path = CGROUP_ROOT) -> int | None:
    """Whole cores of the cgroup v2 CPU quota (``cpu.max``: ``<quota> <period>`` or ``max <period>``) of the
    cgroup named by ``cgroup_line`` (the ``0::/path`` line of ``/proc/self/cgroup``); None without a quota."""
    if not cgroup_line.startswith("0::"):
        return None
    path = root / cgroup_line[3:].strip().lstrip("/")
    best: int | None = None
    for folder in (path, *path.parents):  # a parent's quota limits too; stop at the root of the mount
        try:
            quota, period = (folder / "cpu.max").read_text().split()[:2]
        except (OSError, ValueError):
            quota = "max"
            period = "1"
        if quota != "max":
            try:
                cores = max(1, int(quota) // max(1, int(period)))
            except ValueError:
                cores = None
            if cores is not None:
                best = cores if best is None else min(best, cores)
        if folder == root:
            break
    return best


@functools.cache  # asked by every inbox of every partner (Settings.processes): read once per process
def usable_cores() -> int:
    """Cores this process may use (affinity and cgroup quota), at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        quota = quota_cores(line)
        if quota is not None:
            cores = min(cores, quota)
    return max(1, cores)


def auto_processes(cores: int | None = None) -> int:
    """``inbound_processes: auto``: one process per usable core, at most :data:`AUTO_MAX_PROCESSES`."""
    return max(1, min(usable_cores() if cores is None else cores, AUTO_MAX_PROCESSES))
