"""Scheduled polling of remote channels (SFTP): one scheduler job per channel, ``max_instances=1`` and coalescing
(see scheduler.py), replaced in place when the partner registry is reloaded, and guarded by a channel lock so
that with several gateway processes on one PostgreSQL store only one of them polls a channel at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.flows.inbound import InboundFlow
from gateway.flows.polling import ChannelPoller
from gateway.logging import get_logger
from gateway.scheduler import Scheduler
from gateway.store.locks import ChannelLocks
from gateway.transports.base import PollingInbound

log = get_logger(__name__)


@dataclass(frozen=True)
class ChannelJob:
    """What to poll and how often. ``signature`` (e.g. the channel's frozen settings) says when a reload changed
    the channel; without one, every sync replaces the job."""

    inbound: PollingInbound
    every_seconds: float
    signature: object = None
    crontab: str | None = None  # a five-field cron schedule instead of the interval

    def same_as(self, other: ChannelJob) -> bool:
        return self.signature is not None and (self.every_seconds, self.crontab, self.signature) == (
            other.every_seconds,
            other.crontab,
            other.signature,
        )


class LockedPoller(ChannelPoller):
    def __init__(self, channel: PollingInbound, flow: InboundFlow, scheduler: Scheduler, locks: ChannelLocks):
        super().__init__(channel, flow, scheduler)
        self.locks = locks

    def run(self) -> None:
        with self.locks.hold(self.channel.channel) as mine:
            if not mine:
                log.debug("poll.skipped", extra={"fields": {"channel": self.channel.channel, "why": "locked"}})
                return
            super().run()


class ChannelJobs:
    def __init__(
        self,
        scheduler: Scheduler,
        flow: InboundFlow,
        locks: ChannelLocks,
        poller: Callable[..., ChannelPoller] = LockedPoller,
    ) -> None:
        self.scheduler = scheduler
        self.flow = flow
        self.locks = locks
        self._poller = poller
        self.jobs: dict[str, tuple[ChannelPoller, ChannelJob]] = {}

    def sync(self, wanted: Mapping[str, ChannelJob]) -> dict[str, list[str]]:
        """Make the scheduled jobs match ``wanted`` (channel id -> job): add new channels, replace changed ones,
        remove the ones that are gone. Returns what changed, for the reload log."""
        changes: dict[str, list[str]] = {"added": [], "replaced": [], "removed": []}
        for channel in sorted(set(self.jobs) - set(wanted)):
            poller, _ = self.jobs.pop(channel)
            self.scheduler.remove(poller.job_id)
            changes["removed"].append(channel)
        for channel, job in sorted(wanted.items()):
            current = self.jobs.get(channel)
            if current is not None and job.same_as(current[1]):
                continue
            poller = self._poller(job.inbound, self.flow, self.scheduler, self.locks)
            self.scheduler.remove(poller.job_id)  # before start, APScheduler would keep both pending copies
            if job.crontab:
                self.scheduler.add_cron(poller.job_id, poller.run, job.crontab)
            else:
                self.scheduler.add_interval(poller.job_id, poller.run, job.every_seconds)  # replace_existing=True
            self.jobs[channel] = (poller, job)
            changes["replaced" if current is not None else "added"].append(channel)
        if any(changes.values()):
            log.info("channels.scheduled", extra={"fields": changes})
        return changes
