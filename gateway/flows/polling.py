"""A polling job: ask an inbound channel for complete items and take each through the inbound flow."""

from __future__ import annotations

import threading
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

    def __init__(self, channel: PollingInbound, flow: Receives, scheduler: Scheduler) -> None:
        self.channel = channel
        self.flow = flow
        self.scheduler = scheduler
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
                for item in items:
                    try:
                        self.flow.receive(item)
                    except StoreError:
                        log.exception("poll.store_unavailable", extra={"fields": {"channel": self.channel.channel}})
                        return  # leave the rest in place; the next run tries again
                    except Exception:
                        log.exception("poll.item_failed", extra={"fields": {"channel": self.channel.channel}})
                    finally:
                        self.channel.forget(item)
                if wait == 0:
                    continue  # more complete files than one poll hands out (a shared folder's batch): poll again
                if wait is not None:
                    self.scheduler.wake(self.job_id, delay=wait)
                if not self._dirty.is_set():
                    return
