"""A polling job: ask an inbound channel for complete items and take each through the inbound flow.

With ``workers`` above one (PostgreSQL: see ``inbound_workers``), up to that many items of one poll are in flight
at once, each in its own thread and its own transactions; every item is still taken through the whole flow by one
thread, so the flow's order of steps (archive, record, acknowledge, commit the source) holds for each.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from gateway import metrics
from gateway.errors import StoreError, TransportError
from gateway.logging import get_logger, log_context
from gateway.scheduler import Scheduler
from gateway.transports.base import PollingInbound, is_transient

log = get_logger(__name__)


class Receives(Protocol):
    """What a poller hands items to: the inbound flow, or the outbox intake of the document flow."""

    def receive(self, item: Any) -> Any: ...


class ChannelPoller:
    """Runs as a scheduler job (never two at once for a channel). A wake during a run makes it poll again."""

    def __init__(self, channel: PollingInbound, flow: Receives, scheduler: Scheduler, *, workers: int = 1) -> None:
        self.channel = channel
        self.flow = flow
        self.scheduler = scheduler
        self.workers = max(1, workers)
        self.job_id = f"poll:{channel.channel}"
        self._dirty = threading.Event()

    def wake(self) -> None:
        self._dirty.set()
        self.scheduler.wake(self.job_id)

    def run(self) -> None:
        """One scheduled run: poll, take each item through the flow, then close the poll's connection."""
        try:
            self._run()
        finally:
            self.channel.close()

    def _run(self) -> None:
        with log_context(partner_id=getattr(self.channel, "partner_id", None)):
            for _ in range(100):  # bounded: a storm of events cannot pin a worker forever
                self._dirty.clear()
                try:
                    items, wait = self.channel.poll()
                except TransportError as exc:
                    event = "poll.unreachable" if is_transient(exc) else "poll.refused"
                    log.error(event, extra={"fields": {"channel": self.channel.channel, "error": str(exc)}})
                    metrics.poll_error(getattr(self.channel, "partner_id", None), self.channel.channel, event[5:])
                    return  # the next scheduled run tries again; a permanent error is visible in the log
                if not self._take(items):
                    return  # the store is down: the rest stay in place; the next run tries again
                if wait == 0:
                    continue  # more complete files than one poll hands out (a shared folder's batch): poll again
                if wait is not None:
                    self.scheduler.wake(self.job_id, delay=wait)
                if not self._dirty.is_set():
                    return

    def _take(self, items: Sequence[Any]) -> bool:
        """Take ``items`` through the flow (several at once with ``workers`` > 1). False: the store is down."""
        stop = threading.Event()

        def one(item: Any) -> None:
            try:
                if not stop.is_set():
                    self.flow.receive(item)
            except StoreError:
                stop.set()  # items not started yet stay in place
                log.exception("poll.store_unavailable", extra={"fields": {"channel": self.channel.channel}})
            except Exception:
                log.exception("poll.item_failed", extra={"fields": {"channel": self.channel.channel}})
            finally:
                self.channel.forget(item)

        if self.workers == 1 or len(items) < 2:
            for item in items:
                one(item)
                if stop.is_set():
                    return False
            return True
        with ThreadPoolExecutor(min(self.workers, len(items)), thread_name_prefix="inbound") as pool:
            for item in items:  # each thread runs in a copy of the poll's log context (partner id)
                pool.submit(contextvars.copy_context().run, one, item)
        return not stop.is_set()
