"""A polling job: ask an inbound channel for complete items and take each through the inbound flow.

The items of one poll go to the flow in batches (group commit: :mod:`gateway.flows.inbound_batch`). With
``workers`` above one (PostgreSQL: see ``inbound_workers``), up to that many batches are in flight at once, each in
its own thread and its own transactions; every item is still taken through the whole flow by one thread, so the
flow's order of steps (archive, record, acknowledge, commit the source) holds for each.
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
BATCH = 50  # items of one poll taken through the inbound flow together (one transaction per step for all)


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
        """Take ``items`` through the flow (several at once with ``workers`` > 1). False: the store is down.

        A flow that takes batches (``receive_many``: the inbound flow, group commit) gets the items in chunks of
        up to :data:`BATCH`, spread over the workers; each chunk is taken through the flow by one thread."""
        stop = threading.Event()
        many = getattr(self.flow, "receive_many", None)
        if many is not None:
            size = max(1, min(BATCH, -(-len(items) // self.workers)))
            chunks = [list(items[i:i + size]) for i in range(0, len(items), size)]
        else:
            chunks = [[item] for item in items]

        def one(chunk: list[Any]) -> None:
            try:
                if not stop.is_set():
                    if many is not None:
                        many(chunk)
                    else:
                        self.flow.receive(chunk[0])
            except StoreError:
                stop.set()  # items not started yet stay in place
                log.exception("poll.store_unavailable", extra={"fields": {"channel": self.channel.channel}})
            except Exception:
                log.exception("poll.item_failed", extra={"fields": {"channel": self.channel.channel}})
            finally:
                for item in chunk:
                    self.channel.forget(item)

        if self.workers == 1 or len(chunks) < 2:
            for chunk in chunks:
                one(chunk)
                if stop.is_set():
                    return False
            return True
        with ThreadPoolExecutor(min(self.workers, len(chunks)), thread_name_prefix="inbound") as pool:
            for chunk in chunks:  # each thread runs in a copy of the poll's log context (partner id)
                pool.submit(contextvars.copy_context().run, one, chunk)
        return not stop.is_set()
