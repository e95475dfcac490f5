"""The collector's policy (gateway/gcpolicy.py) in the processes that run it: ``gateway serve`` and its inbound
worker each freeze what start-up built and raise the young generation's threshold, and say so in the log."""

from __future__ import annotations

import json
import subprocess
import sys

from gateway.gcpolicy import THRESHOLDS
from tests.processes.test_worker_processes import database, env, worker
from tests.support.gateway_home import make_home, wait_for
from tests.support.serve import ServeProcess


def test_settle_frees_startup_garbage_then_freezes_the_rest_and_sets_the_thresholds():
    # a fresh interpreter: this one's collector is pytest's business
    code = """
import gc, json, weakref
class Cycle:
    def __init__(self):
        self.me = self
kept = [[i] for i in range(1000)]
gc.disable()  # no collection before settle's own
dead = weakref.ref(Cycle())  # garbage in a cycle: only a collection frees it
from gateway.gcpolicy import settle
done = settle()
print(json.dumps({"frozen": done.frozen, "count": gc.get_freeze_count(), "thresholds": gc.get_threshold(),
                  "cycle_freed": dead() is None,
                  "tracked": len(gc.get_objects())}))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True).stdout)
    assert out["frozen"] == out["count"] > 1000  # the kept lists among them
    assert out["tracked"] < 1000  # frozen objects are out of the collector's sight (and gc.get_objects()')
    assert out["cycle_freed"]  # collected before the freeze, not kept for the process's life
    assert tuple(out["thresholds"]) == THRESHOLDS != (700, 10, 10)


def test_serve_and_its_worker_report_what_they_froze(tmp_path):
    home = make_home(tmp_path / "home")
    with database("sqlite", home) as url:
        serve = ServeProcess(home, env=env(url))

        def settled() -> list[dict] | None:
            found = [json.loads(line) for line in serve.log.read_text().splitlines() if '"gc.settled"' in line]
            return found if len(found) >= 2 else None

        try:
            serve.wait_healthy(timeout=60)
            worker(url, serve.proc.pid)
            wait_for(settled, timeout=30, interval=0.2)
        finally:
            serve.stop()
        settled_ = settled() or []
    by = {"worker" if "worker" in s else "parent": s for s in settled_}
    assert len(settled_) == 2 and set(by) == {"parent", "worker"}, settled_
    for record in by.values():
        assert record["frozen"] > 50_000  # imports, partners, the API: far more than this
        assert tuple(record["thresholds"]) == THRESHOLDS
