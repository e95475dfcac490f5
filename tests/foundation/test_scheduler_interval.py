"""An interval job added without ``run_now`` must still run on its interval (APScheduler 3 treats
``next_run_time=None`` as *paused*: the delivery-retry sweep and the AS2 jobs never ran in ``gateway serve``)."""

from __future__ import annotations

import threading

from gateway.scheduler import Scheduler


def test_interval_job_without_run_now_runs_on_its_interval():
    ran = threading.Event()
    s = Scheduler()
    s.add_interval("sweep", ran.set, 0.2, run_now=False)
    s.start()
    try:
        assert ran.wait(5), "the job never ran: it was added paused"
    finally:
        s.stop()
