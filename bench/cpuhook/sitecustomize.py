"""Thread CPU time per scheduler job and per inbound step, per process (loaded as ``sitecustomize`` through
PYTHONPATH in ``gateway serve`` and its inbound worker processes): written to ``$CPUHOOK_OUT.<pid>`` every second.
Used for bench/results/procs4.txt (where the second process's CPU goes); ``time.thread_time`` counts a thread's
own CPU only, so a busy machine moves it far less than wall time::

    bench/e2e.py ... --env PYTHONPATH=bench/cpuhook:$PYTHONPATH --env CPUHOOK_OUT=/tmp/hk/c
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
from typing import Any

OUT = os.environ.get("CPUHOOK_OUT")
spent: collections.defaultdict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])
lock = threading.Lock()


def _add(label: str, seconds: float) -> None:
    with lock:
        entry = spent[label]
        entry[0] += seconds
        entry[1] += 1


def _wrap(cls: Any, name: str) -> None:
    original = getattr(cls, name)
    label = f"{cls.__name__}.{name}"

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            _add(label, time.thread_time() - start)

    setattr(cls, name, timed)


def _install() -> None:
    from gateway import scheduler
    from gateway.flows.inbound import InboundFlow
    from gateway.store.leases import MessageLeases
    from gateway.store.nodes import NodeRegistry
    from gateway.transports.claims import ClaimSpace
    from gateway.transports.folder import FolderInbound

    tracked = scheduler.Scheduler._tracked

    def _tracked(self: Any, job_id: str, func: Any) -> Any:
        run = tracked(self, job_id, func)

        def timed() -> Any:
            start = time.thread_time()
            try:
                return run()
            finally:
                _add("job " + job_id.split(":")[0], time.thread_time() - start)

        return timed

    scheduler.Scheduler._tracked = _tracked  # type: ignore[method-assign]
    for cls, name in [(FolderInbound, "poll"), (FolderInbound, "_scan"), (FolderInbound, "_share_order"),
                      (ClaimSpace, "take_over"), (ClaimSpace, "pending"), (ClaimSpace, "claim"),
                      (InboundFlow, "receive_many"), (NodeRegistry, "beat"), (NodeRegistry, "gone_ids"),
                      (MessageLeases, "take"), (MessageLeases, "release_many")]:
        _wrap(cls, name)


def _threads() -> dict[str, float]:
    out: dict[str, float] = {}
    for t in threading.enumerate():
        try:
            fields = open(f"/proc/self/task/{t.native_id}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
        except OSError:
            continue
        out[t.name] = out.get(t.name, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def _snapshot() -> dict[str, Any]:
    with lock:
        data: dict[str, Any] = {k: list(v) for k, v in spent.items()}
    data["process_time"] = [time.process_time(), 0]
    data["threads"] = _threads()
    return data


if OUT:
    sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "hookout"))
    from hookout import keep_written

    _install()
    keep_written(OUT, _snapshot, every=1, name="cpuhook")
