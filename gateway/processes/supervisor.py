"""The parent's side: start the inbound worker processes, restart those that exit, stop them with the parent.

Each worker is ``python -m gateway.processes.worker`` (a fresh interpreter: forking the parent, which runs threads
by then, is unsafe) with a pipe on its standard input: the parent writes the start line (settings and node id) and
keeps its end open; the worker stops when it reads end of file, so a parent killed with SIGKILL takes its workers
with it. A worker that exits while the parent runs is reported (``on_exit``, the parent records it as stopped in the
node registry and takes its work over at once) and restarted under a fresh node id, after a pause that doubles
while workers keep dying young (a worker that cannot start must not spin).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.logging import get_logger
from gateway.node import FAMILY_LEN
from gateway.settings import Settings

log = get_logger(__name__)
WATCH_SECONDS = 0.2  # how often exits are looked for
YOUNG_SECONDS = 10.0  # a worker that dies younger than this makes the next restart wait longer
MAX_PAUSE_SECONDS = 60.0
STOP_SECONDS = 30.0  # SIGTERM, then this long for a clean stop, then SIGKILL


def worker_node(parent: str, slot: int, generation: int) -> str:
    """``<parent>-w<slot>`` for a slot's first worker, ``-w<slot>.<n>`` for its restarts (never an id reused: the
    registry and the claims tell a dead worker from its successor by it); within the 64 characters of a node id
    (a parent id longer than :data:`FAMILY_LEN` is cut to it)."""
    return f"{parent[:FAMILY_LEN]}-w{slot}" + (f".{generation}" if generation else "")


@dataclass
class _Worker:
    slot: int
    generation: int
    node: str
    proc: subprocess.Popen[bytes]
    started: float


class WorkerProcesses:
    """``count`` inbound worker processes beside this one (slots 1..count)."""

    def __init__(self, settings: Settings, *, parent: str, count: int,
                 on_exit: Callable[[str], None] = lambda node: None) -> None:
        self.settings = settings
        self.parent = parent
        self.count = count
        self.on_exit = on_exit
        self._workers: dict[int, _Worker] = {}
        self._pause: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._settings = settings.model_dump(mode="json")  # what the workers run with: this process's settings,
        self._settings["inbound_processes"] = settings.processes  # "auto" as resolved here (the shares' modulus)

    # -- start and watch ---------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        for slot in range(1, self.count + 1):
            self._spawn(slot, 0)
        self._thread = threading.Thread(target=self._watch, name="inbound-workers", daemon=True)
        self._thread.start()

    def _spawn(self, slot: int, generation: int) -> None:
        node = worker_node(self.parent, slot, generation)
        proc = subprocess.Popen(  # our own interpreter and module, no shell
            [sys.executable, "-m", "gateway.processes.worker"], stdin=subprocess.PIPE, close_fds=True,
        )
        assert proc.stdin is not None
        try:
            line = json.dumps({"settings": self._settings, "parent": self.parent, "node": node, "slot": slot})
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
        except OSError:
            pass  # it died at once: the watch restarts it
        with self._lock:
            self._workers[slot] = _Worker(slot, generation, node, proc, time.monotonic())
        log.info("worker.spawned", extra={"fields": {"node": node, "pid": proc.pid, "slot": slot}})

    def _watch(self) -> None:
        due: dict[int, tuple[float, int]] = {}  # slot -> (restart at, generation)
        while not self._stopping.wait(WATCH_SECONDS):
            with self._lock:
                workers = list(self._workers.values())
            for w in workers:
                code = w.proc.poll()
                if code is None or w.slot in due:
                    continue
                self._closed(w)
                log.error("worker.exited", extra={"fields": {"node": w.node, "pid": w.proc.pid, "code": code}})
                try:
                    self.on_exit(w.node)
                except Exception:
                    log.exception("worker.takeover_failed", extra={"fields": {"node": w.node}})
                young = time.monotonic() - w.started < YOUNG_SECONDS
                pause = min(MAX_PAUSE_SECONDS, self._pause.get(w.slot, 0.5) * 2) if young else 0.0
                self._pause[w.slot] = pause or 0.5
                due[w.slot] = (time.monotonic() + pause, w.generation + 1)
            for slot, (at, generation) in list(due.items()):
                if time.monotonic() >= at and not self._stopping.is_set():
                    del due[slot]
                    try:
                        self._spawn(slot, generation)
                    except OSError as exc:
                        log.error("worker.spawn_failed", extra={"fields": {"slot": slot, "error": str(exc)}})
                        due[slot] = (time.monotonic() + MAX_PAUSE_SECONDS, generation + 1)

    @staticmethod
    def _closed(w: _Worker) -> None:
        if w.proc.stdin is not None:
            try:
                w.proc.stdin.close()
            except OSError:
                pass

    # -- what runs ---------------------------------------------------------------------------------------------
    def nodes(self) -> dict[str, int]:
        """Node id -> pid of the workers running now."""
        with self._lock:
            return {w.node: w.proc.pid for w in self._workers.values() if w.proc.poll() is None}

    # -- stop --------------------------------------------------------------------------------------------------
    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM every worker (each finishes the files it is on and gives its other claims back), wait for them,
        SIGKILL those still running after ``timeout``."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for w in workers:
            if w.proc.poll() is None:
                try:
                    w.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for w in workers:
            try:
                w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker.killed", extra={"fields": {"node": w.node, "pid": w.proc.pid}})
                w.proc.kill()
                w.proc.wait()
                self.on_exit(w.node)
            self._closed(w)
        log.info("worker.all_stopped", extra={"fields": {"workers": len(workers), "pid": os.getpid()}})
