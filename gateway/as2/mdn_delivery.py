"""Delivering asynchronous MDNs (RFC 4130 sec. 7.3) to the partner's Receipt-Delivery-Option URL, with retries.

The MDN is already archived and recorded (an outbound message linked to the received one); this job only moves
it, so it can run in the background after the HTTP answer, and again later if the gateway restarted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import httpx
from sqlmodel import col, select

from gateway.as2.mime import unframe
from gateway.logging import get_logger, log_context
from gateway.store.archive import Archive
from gateway.store.models import Direction, Message, MessageStatus
from gateway.store.repository import Store

log = get_logger(__name__)


class AsyncMdnDelivery:
    def __init__(
        self,
        *,
        store: Store,
        archive: Archive,
        delays: Sequence[float] = (0.0, 5.0, 30.0, 120.0, 600.0),
        timeout: float = 30.0,
        verify_tls: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.archive = archive
        self.delays = tuple(delays)
        self.timeout = timeout
        self.verify_tls = verify_tls
        self.sleep = sleep

    def deliver(self, mdn_message_id: int, url: str) -> bool:
        """POST the stored MDN to ``url``; retries on network errors and HTTP 5xx/429. True when delivered."""
        msg = self.store.get(mdn_message_id)
        assert msg.archive_key is not None
        headers, body = unframe(self.archive.read_bytes(msg.archive_key))
        with log_context(message_id=mdn_message_id, partner_id=msg.partner_id):
            for attempt, delay in enumerate(self.delays, start=1):
                if delay:
                    self.sleep(delay)
                try:
                    with httpx.Client(timeout=self.timeout, verify=self.verify_tls) as client:
                        r = client.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    outcome, retry = f"{type(exc).__name__}: {exc}", True
                else:
                    outcome, retry = f"HTTP {r.status_code}", r.status_code >= 500 or r.status_code == 429
                    if r.is_success:
                        self.store.update(
                            mdn_message_id,
                            event="mdn.delivered",
                            status=MessageStatus.delivered,
                            detail={"url": url, "attempt": attempt, "http_status": r.status_code},
                        )
                        log.info("mdn.delivered", extra={"fields": {"attempt": attempt}})
                        return True
                last = attempt == len(self.delays) or not retry
                self.store.update(
                    mdn_message_id,
                    event="mdn.delivery_failed",
                    status=MessageStatus.dead if last else MessageStatus.retrying,
                    reason=f"async MDN to {url}: {outcome}" + ("" if last else " (will retry)"),
                    detail={"url": url, "attempt": attempt, "outcome": outcome},
                )
                log.warning("mdn.delivery_failed", extra={"fields": {"attempt": attempt, "outcome": outcome}})
                if last:
                    return False
        return False

    def pending(self) -> list[tuple[int, str]]:
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
            )
            rows = list(s.exec(q).all())
        out = []
        for msg in rows:
            assert msg.id is not None
            built = next((e for e in self.store.events(msg.id) if e.name == "mdn.built"), None)
            url = (built.detail or {}).get("url") if built else None
            if url:
                out.append((msg.id, url))
        return out

    def resume(self) -> list[int]:
        """Deliver every pending async MDN (run at start and from a periodic job)."""
        return [mid for mid, url in self.pending() if self.deliver(mid, url)]
