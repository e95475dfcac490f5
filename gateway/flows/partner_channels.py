"""The running channels of each partner: started, stopped and restarted as partner files change.

Stopping a channel removes its scheduled poll and its file watch; a poll that is running at that moment
finishes what it picked up (the scheduler never interrupts a job), so in-flight work is never dropped. A
partner whose channel settings did not change keeps its running channels through a reload.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from gateway.flows.inbound import InboundFlow
from gateway.flows.outbox import outbox_folder
from gateway.flows.polling import ChannelPoller, Receives
from gateway.logging import get_logger
from gateway.partners.registry import PartnerRegistry
from gateway.partners.schema import Partner
from gateway.scheduler import Scheduler
from gateway.settings import Settings
from gateway.transports.channels import Gone, inbound_folders, outbound_folders
from gateway.transports.folder import FolderInbound
from gateway.transports.watch import FolderWatcher

log = get_logger(__name__)


@dataclass
class _Running:
    partner: Partner
    pollers: list[ChannelPoller] = field(default_factory=list)
    outboxes: list[ChannelPoller] = field(default_factory=list)  # var/outbox/<partner>: our side, not a channel
    watches: list[Any] = field(default_factory=list)


class PartnerChannels:
    def __init__(
        self,
        settings: Settings,
        inbound: InboundFlow,
        scheduler: Scheduler,
        watcher: FolderWatcher,
        outbox: Receives | None = None,
    ) -> None:
        self.settings = settings
        self.inbound = inbound
        self.outbox = outbox  # the document flow's intake for var/outbox/<partner>/
        self.scheduler = scheduler
        self.watcher = watcher
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self.gone: Gone | None = None  # the node registry's dead nodes: their shared-inbox claims are taken at once

    @property
    def pollers(self) -> list[ChannelPoller]:
        """The running pollers. Taken under the lock that :meth:`apply` holds: a reader never sees a partner half
        restarted (its new folders already created, its pollers not yet registered), nor a dict changing size."""
        with self._lock:
            return [p for r in self._running.values() for p in r.pollers]

    @property
    def outboxes(self) -> list[ChannelPoller]:
        return [p for r in self._running.values() for p in r.outboxes]

    def start(self, partner: Partner) -> None:
        with self._lock:
            self._start(partner)

    def _start(self, partner: Partner) -> None:
        running = _Running(partner)
        folders: list[tuple[FolderInbound, Receives]] = [
            (f, self.inbound) for f in inbound_folders(self.settings, partner, gone=self.gone)
        ]
        box = outbox_folder(self.settings, partner, gone=self.gone) if self.outbox is not None else None
        if box is not None and self.outbox is not None:
            folders.append((box, self.outbox))
        for folder, flow in folders:
            folder.ensure_folders()
            workers = self.settings.workers if flow is self.inbound else 1
            poller = ChannelPoller(folder, flow, self.scheduler, workers=workers)
            self.scheduler.add_interval(poller.job_id, poller.run, self.settings.folder.sweep_seconds)
            (running.pollers if flow is self.inbound else running.outboxes).append(poller)
            try:
                running.watches.append(self.watcher.watch(folder.path, poller.wake, ignored=folder.ignored))
            except OSError as exc:  # e.g. the inotify watch limit: the periodic sweep still picks files up
                log.warning(
                    "channel.watch_failed",
                    extra={"fields": {"channel": poller.channel.channel, "error": str(exc)}},
                )
        for out in outbound_folders(self.settings, partner):
            out.path.mkdir(parents=True, exist_ok=True)
        self._running[partner.id] = running

    def _stop(self, partner_id: str) -> None:
        running = self._running.pop(partner_id, None)
        if running is None:
            return
        for poller in running.pollers + running.outboxes:
            self.scheduler.remove(poller.job_id)  # a run in progress completes
        for watch in running.watches:
            self.watcher.unwatch(watch)
        _release(running)

    def release(self) -> None:
        """The gateway stops (after its scheduler): files claimed in shared inboxes and not finished go back."""
        with self._lock:
            for running in self._running.values():
                _release(running)

    def apply(self, old: PartnerRegistry, new: PartnerRegistry) -> dict[str, list[str]]:
        """Bring the running channels in line with ``new``; returns what changed, by partner id."""
        with self._lock:
            before = {p.id: p for p in old}
            after = {p.id: p for p in new}
            added = sorted(set(after) - set(before))
            removed = sorted(set(before) - set(after))
            changed = sorted(pid for pid in set(before) & set(after) if before[pid].channels != after[pid].channels)
            updated = sorted(
                pid for pid in set(before) & set(after) if before[pid] != after[pid] and pid not in changed
            )
            for pid in removed + changed:
                self._stop(pid)
            for pid in added + changed:
                self._start(after[pid])
            for pid in updated:
                if pid in self._running:
                    self._running[pid].partner = after[pid]
            return {"added": added, "removed": removed, "restarted": changed, "updated": updated}


def _release(running: _Running) -> None:
    """Give this node's unfinished claims on shared folders back to their inboxes (no-op for unshared ones); a
    file whose poll is still running meanwhile is found again by idempotency key, never processed twice."""
    for poller in running.pollers + running.outboxes:
        release = getattr(poller.channel, "release", None)
        if release is None:
            continue
        try:
            back = release()
        except OSError as exc:
            log.warning("channel.release_failed", extra={"fields": {"channel": poller.channel.channel,
                                                                     "error": str(exc)}})
            continue
        if back:
            log.info("channel.claims_released", extra={"fields": {"channel": poller.channel.channel, "files": back}})
