"""Scheduled jobs (APScheduler 3): folder polls now; SFTP polls, retries and overdue-ack checks plug in here.

Every job runs with ``max_instances=1`` and coalescing, so a slow run is never overlapped by the next one and
missed runs collapse into one. :meth:`Scheduler.wake` pulls a job's next run forward (never back).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger


class Scheduler:
    def __init__(self, workers: int = 4) -> None:
        self._sched = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )
        self._running: Counter[str] = Counter()  # job id -> runs in progress (the node heartbeat reports them)
        self._guard = threading.Lock()

    def _tracked(self, job_id: str, func: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with self._guard:
                self._running[job_id] += 1
            try:
                return func()
            finally:
                with self._guard:
                    self._running[job_id] -= 1
                    if self._running[job_id] <= 0:
                        del self._running[job_id]

        return run

    def running(self) -> list[str]:
        """Ids of the jobs running now."""
        with self._guard:
            return sorted(self._running)

    def add_interval(self, job_id: str, func: Callable[[], Any], seconds: float, *, run_now: bool = True) -> None:
        # APScheduler reads next_run_time=None as "paused": without run_now, leave it out (first run after one
        # interval), or the job never runs on its own
        first = {"next_run_time": datetime.now(UTC)} if run_now else {}
        self._sched.add_job(
            self._tracked(job_id, func), "interval", seconds=seconds, id=job_id, name=job_id,
            replace_existing=True, **first
        )

    def add_cron(self, job_id: str, func: Callable[[], Any], crontab: str) -> None:
        """Run ``func`` on a five-field cron schedule (UTC), e.g. ``*/5 8-18 * * mon-fri``."""
        self._sched.add_job(
            self._tracked(job_id, func), CronTrigger.from_crontab(crontab, timezone=UTC), id=job_id, name=job_id,
            replace_existing=True,
        )

    def remove(self, job_id: str) -> None:
        try:
            self._sched.remove_job(job_id)
        except JobLookupError:
            pass

    def wake(self, job_id: str, delay: float = 0.0) -> None:
        job = self._sched.get_job(job_id)
        if job is None:
            return
        when = datetime.now(UTC) + timedelta(seconds=max(delay, 0.0))
        if job.next_run_time is None or when < job.next_run_time:
            job.modify(next_run_time=when)

    def job_ids(self) -> list[str]:
        return [j.id for j in self._sched.get_jobs()]

    def start(self) -> None:
        self._sched.start()

    def stop(self) -> None:
        if self._sched.running:
            self._sched.shutdown(wait=True)
