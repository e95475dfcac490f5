"""Delivering asynchronous MDNs (RFC 4130 sec. 7.3) to the partner's Receipt-Delivery-Option URL, as scheduled work.

The MDN is already archived and recorded (an outbound message ``queued``, linked to the received one, its URL on
the ``mdn.built`` event) before the HTTP answer goes out: that row *is* the work item, so nothing is lost when the
gateway stops. :meth:`AsyncMdnDelivery.run_due`, a scheduler job, makes one attempt per due MDN (no sleeping, a
short timeout); a failure schedules the next attempt (``mdn.delivery_failed`` with ``due``), the last one parks the
MDN as ``dead``. The request that queued an MDN only *wakes* the job (:meth:`queued`), so an HTTP worker never
waits for a partner, and a flood of requests never piles up sleeping retries. On PostgreSQL one process at a time
runs the sweep (an advisory lock), so two nodes never POST the same MDN at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import col, select

from gateway.as2.mime import unframe
from gateway.logging import get_logger, log_context, mask_url
from gateway.store.archive import Archive
from gateway.store.models import Direction, Message, MessageStatus
from gateway.store.repository import Store

log = get_logger(__name__)

BUILT = "mdn.built"
FAILED = "mdn.delivery_failed"


class AsyncMdnDelivery:
    def __init__(
        self,
        *,
        store: Store,
        archive: Archive,
        delays: Sequence[float] = (0.0, 5.0, 30.0, 120.0, 600.0),
        timeout: float = 8.0,
        verify_tls: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lock: Callable[[], AbstractContextManager[bool]] | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.delays = tuple(delays) or (0.0,)
        self.timeout = timeout
        self.verify_tls = verify_tls
        self.clock = clock
        self.lock = lock or (lambda: nullcontext(True))
        self.wake = wake
        self.stopping = threading.Event()

    def queued(self) -> None:
        """An async MDN was queued: run the delivery job soon (never in the caller's thread)."""
        if self.wake is not None:
            self.wake()

    def deliver(self, mdn_message_id: int, url: str) -> bool:
        """One attempt to POST the stored MDN to ``url``, then the retry decision. True when delivered."""
        msg = self.store.get(mdn_message_id)
        assert msg.archive_key is not None
        attempt = 1 + sum(1 for e in self.store.events(mdn_message_id) if e.name == FAILED)
        headers, body = unframe(self.archive.read_bytes(msg.archive_key))
        shown = mask_url(url)
        with log_context(message_id=mdn_message_id, partner_id=msg.partner_id):
            try:
                with httpx.Client(timeout=self.timeout, verify=self.verify_tls, follow_redirects=False) as client:
                    r = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                outcome, retry = type(exc).__name__, True
            else:
                outcome, retry = f"HTTP {r.status_code}", r.status_code >= 500 or r.status_code == 429
                if r.is_success:
                    self.store.update(
                        mdn_message_id,
                        event="mdn.delivered",
                        status=MessageStatus.delivered,
                        reason=None,
                        detail={"url": shown, "attempt": attempt, "http_status": r.status_code},
                    )
                    log.info("mdn.delivered", extra={"fields": {"attempt": attempt}})
                    return True
            last = attempt >= len(self.delays) or not retry
            due = None if last else self.clock() + timedelta(seconds=self.delays[attempt])
            self.store.update(
                mdn_message_id,
                event=FAILED,
                status=MessageStatus.dead if last else MessageStatus.retrying,
                reason=f"async MDN to {shown}: {outcome}" + ("" if last else " (will retry)"),
                detail={"url": shown, "attempt": attempt, "outcome": outcome, "due": due.isoformat() if due else None},
            )
            log.warning("mdn.delivery_failed", extra={"fields": {"attempt": attempt, "outcome": outcome}})
        return False

    def pending(self, *, due_only: bool = False) -> list[tuple[int, str]]:
        """Async MDNs not yet delivered (after a restart, say): (MDN message id, URL), oldest first."""
        with self.store.session() as s:
            q = (
                select(Message)
                .where(
                    Message.direction == Direction.outbound,
                    Message.document_format == "mdn",
                    col(Message.status).in_([MessageStatus.queued, MessageStatus.retrying]),
                )
                .order_by(col(Message.id))
                .limit(1000)
            )
            rows = list(s.exec(q).all())
        now = self.clock()
        out = []
        for msg in rows:
            assert msg.id is not None
            events = self.store.events(msg.id)
            built = next((e for e in events if e.name == BUILT), None)
            url = (built.detail or {}).get("url") if built else None
            failures = [e for e in events if e.name == FAILED]
            due = (failures[-1].detail or {}).get("due") if failures else None
            if due_only and due and datetime.fromisoformat(str(due)) > now:
                continue
            if url:
                out.append((msg.id, str(url)))
        return out

    def run_due(self) -> list[int]:
        """Scheduler job: one attempt for every async MDN that is due. Returns the ids delivered."""
        delivered: list[int] = []
        with self.lock() as mine:
            if not mine:
                return delivered  # another process is sweeping
            for mid, url in self.pending(due_only=True):
                if self.stopping.is_set():
                    break
                if self.deliver(mid, url):
                    delivered.append(mid)
        return delivered

    def resume(self) -> list[int]:
        """Deliver every pending async MDN that is due (run at start and from the periodic job)."""
        return self.run_due()

    def stop(self) -> None:
        """Finish the attempt in progress, start no other (gateway shutdown)."""
        self.stopping.set()
