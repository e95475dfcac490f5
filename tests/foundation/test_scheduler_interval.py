"""An interval job added without ``run_now`` must still run on its interval (APScheduler 3 treats
``next_run_time=None`` as *paused*: the delivery-retry sweep and the AS2 jobs never ran in ``gateway serve``)."""

from __future__ import annotations

import threading
import time

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


def test_stop_while_a_running_job_wakes_another_job_returns():
    """A poll that hands off a file wakes the hand-off sweep; if that happens while the gateway stops, the stop must
    not wait forever (APScheduler's shutdown holds the job store lock while it waits for running jobs)."""
    from apscheduler.schedulers.base import STATE_STOPPED

    s = Scheduler(workers=2)
    started, woke = threading.Event(), threading.Event()

    def poll() -> None:
        started.set()
        deadline = time.monotonic() + 10
        while s._sched.state != STATE_STOPPED and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # the shutdown now holds its locks and waits for this job
        s.wake("sweep")
        woke.set()

    s.add_interval("sweep", lambda: None, 3600, run_now=False)
    s.add_interval("poll", poll, 3600)
    s.start()
    assert started.wait(10)
    stopper = threading.Thread(target=s.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=20)
    assert not stopper.is_alive(), "stop() hangs: the job's wake() waits for the lock the shutdown holds"
    assert woke.is_set()
