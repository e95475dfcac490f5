"""How a burst was shared between the processes of one ``gateway serve`` (bench/e2e.py, inbound worker processes).

Sampled while the run goes (every poll of bench/e2e.py): the names seen in each process's working folder
``<inbox>/.claimed/<node id>/`` (a file stays there from its claim to its commit, so nearly every file is seen once
by the process that took it) and each process's CPU time. Printed at the end: files seen per working folder, and for
each process how long before the end of the burst it last worked (a sampling interval with more than 5 % of a
core): a process that ran out of files early while another still had a backlog shows as idle for that long. On
SQLite, the largest size of the write-ahead log seen (several writers: do checkpoints keep up?).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

BUSY_SHARE = 0.05  # of one core, over one sampling interval (an idle process: heartbeats, polls, 1-2 %)


class Balance:
    def __init__(self, inbox: Path, wal: Path | None = None) -> None:
        self.claimed = inbox / ".claimed"
        self.wal = wal  # SQLite's write-ahead log: its largest size seen (checkpoints keep it bounded, or not)
        self.wal_max = 0
        self.seen: dict[str, set[str]] = {}
        self.last_cpu: dict[int, tuple[float, float]] = {}  # pid -> (time, cpu s) at the previous sample
        self.busy_at: dict[int, float] = {}  # pid -> the last time it was seen busy

    def sample(self, cpu_by_pid: dict[int, float]) -> None:
        now = time.monotonic()
        if self.wal is not None:
            try:
                self.wal_max = max(self.wal_max, self.wal.stat().st_size)
            except FileNotFoundError:
                pass
        try:
            folders = [e for e in os.scandir(self.claimed) if e.is_dir()]
        except FileNotFoundError:
            folders = []
        for folder in folders:
            try:
                names = {e.name for e in os.scandir(folder.path) if not e.name.startswith(".")}
            except FileNotFoundError:
                continue
            self.seen.setdefault(folder.name, set()).update(names)
        for pid, cpu in cpu_by_pid.items():
            before = self.last_cpu.get(pid)
            if before is not None and now > before[0] and (cpu - before[1]) / (now - before[0]) > BUSY_SHARE:
                self.busy_at[pid] = now
            self.last_cpu[pid] = (now, cpu)

    def report(self, end: float, order: list[int]) -> str:
        """One line: files seen per working folder; per process (``order``: the server first) seconds idle before
        ``end`` (a monotonic time)."""
        files = ", ".join(f"{node.rsplit('-', 1)[-1]} {len(names)}" for node, names in sorted(self.seen.items()))
        idle = "/".join(f"{max(0.0, end - self.busy_at[p]):.1f}" if p in self.busy_at else "-" for p in order)
        wal = f"; SQLite WAL at most {self.wal_max / 1e6:.1f} MB" if self.wal is not None else ""
        return f"files seen claimed per process: {files or 'none (one process: no claims)'}; " \
               f"idle before the end, s (server/workers): {idle}{wal}"
