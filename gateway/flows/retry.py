"""Transport-level retry of outbound deliveries.

A delivery that fails with a transient error (the server is down, HTTP 5xx, a full remote disk ...) leaves the
message ``retrying``. :class:`DeliveryRetries` then decides, from the partner's :class:`RetryPolicy` and the
number of attempts already on the message's timeline, either to schedule another attempt (event
``delivery.retry_scheduled`` with the attempt number and when it is due) or, once the attempts are used up, to
park the message as ``dead`` with the last error as its reason (event ``delivery.dead``). :meth:`run_due`, a
scheduler job, makes the attempts that are due. Everything is on the timeline, so retries survive a restart.
A permanent error (refused credentials, HTTP 4xx, an unknown host key) is not retried: the message is failed.

Retries are scheduled, persisted work: no attempt ever sleeps in the thread that asked for the delivery (channels
make one attempt per call; webhooks send with ``attempts=1``). With several processes on one PostgreSQL store,
``lock`` (an advisory lock) lets one process at a time run the sweep, and each message the sweep delivers is first
claimed (``retrying``/``queued`` -> ``sending``, leased to this node like :class:`~gateway.flows.documents.DocumentFlow`
claims), so a due retry is attempted once even when a document's recovery or a resend reaches it at the same time.
A ``sending`` message whose lease ran out (its node died mid-send) is taken over by the sweep.
The sweep also mends two gaps: a ``retrying`` message whose last failed attempt was never scheduled (a delivery
made by a path that did not go through :meth:`deliver`, such as an older manual resend) gets its retry decision
now; and a ``queued`` message that waited for want of an outbound channel (last event ``delivery.pending``) is
delivered once its partner has one.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.flows import delivery_status as ds
from gateway.flows.outbound import OutboundFlow
from gateway.logging import get_logger, log_context
from gateway.partners.schema import Partner
from gateway.store.batch import Batch
from gateway.store.leases import MessageLeases, claim_step
from gateway.store.models import Direction, Message, MessageStatus
from gateway.store.repository import Store

log = get_logger(__name__)

ATTEMPT = "delivery.failed"
SCHEDULED = "delivery.retry_scheduled"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5  # deliveries in total, the first included
    backoff_seconds: float = 60.0  # wait before the second attempt
    factor: float = 2.0  # each wait is this much longer than the one before
    max_backoff_seconds: float = 3600.0

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failure."""
        return min(self.backoff_seconds * self.factor ** max(failed_attempts - 1, 0), self.max_backoff_seconds)


class DeliveryRetries:
    def __init__(
        self,
        *,
        store: Store,
        outbound: OutboundFlow,
        policy: Callable[[Partner], RetryPolicy],
        partner: Callable[[str], Partner | None],
        clock: Callable[[], datetime],
        lock: Callable[[], AbstractContextManager[bool]] | None = None,
        leases: MessageLeases | None = None,
        lease: timedelta = timedelta(minutes=2),
    ) -> None:
        self.store = store
        self.outbound = outbound
        self.policy = policy
        self.partner = partner
        self.clock = clock
        self.lock = lock or (lambda: nullcontext(True))
        self.leases = leases or MessageLeases(store.engine, lease=lease)
        self.lease = lease

    def deliver(self, message: Message, partner: Partner, *, batch: Batch | None = None) -> Message:
        """One delivery attempt, then the retry decision (``batch``: see :meth:`OutboundFlow.deliver`)."""
        msg = self.outbound.deliver(message, partner, batch=batch)
        if msg.status != MessageStatus.retrying:
            return msg
        return self._decide(msg, partner)

    def _decide(self, msg: Message, partner: Partner) -> Message:
        """After a transient failure: schedule the next attempt, or give up (dead)."""
        assert msg.id is not None
        with log_context(message_id=msg.id, partner_id=partner.id):
            policy = self.policy(partner)
            failed = sum(1 for e in self.store.events(msg.id) if e.name == ATTEMPT)
            if failed >= policy.attempts:
                reason = f"gave up after {failed} attempts; the last: {msg.reason}"
                log.error("delivery.dead", extra={"fields": {"attempts": failed}})
                return self.store.update(
                    msg.id,
                    event="delivery.dead",
                    status=ds.DEAD[0],
                    delivery_status=ds.DEAD[1],
                    reason=reason,
                    detail={"attempts": failed, "last_error": msg.error},
                )
            wait = policy.delay(failed)
            due = self.clock() + timedelta(seconds=wait)
            log.info("delivery.retry_scheduled", extra={"fields": {"attempt": failed + 1, "in_seconds": wait}})
            self.store.add_event(
                msg.id, SCHEDULED, detail={"attempt": failed + 1, "of": policy.attempts, "due": due.isoformat()}
            )
            return self.store.get(msg.id)

    def due(self) -> list[Message]:
        """Outbound messages waiting for a retry whose time has come, oldest first."""
        return [m for m, what in self._sweep() if what == "due"]

    def _sweep(self) -> list[tuple[Message, str]]:
        """(message, "due" | "unscheduled" | "pending") for outbound messages the sweep acts on, oldest first."""
        now = self.clock()
        out: list[tuple[Message, str]] = []
        for msg in self.store.unfinished(Direction.outbound):
            if msg.id is not None and msg.status == MessageStatus.sending and self._expired(msg, now):
                out.append((msg, "stale"))
                continue
            if msg.id is None or msg.status not in (MessageStatus.retrying, MessageStatus.queued):
                continue
            events = self.store.events(msg.id)
            if msg.status == MessageStatus.queued:
                if events and events[-1].name == "delivery.pending":
                    out.append((msg, "pending"))
                continue
            last_attempt = max((e.id or 0 for e in events if e.name == ATTEMPT), default=0)
            scheduled = [e for e in events if e.name == SCHEDULED]
            if last_attempt and (not scheduled or (scheduled[-1].id or 0) < last_attempt):
                out.append((msg, "unscheduled"))
            elif scheduled and datetime.fromisoformat(str((scheduled[-1].detail or {})["due"])) <= now:
                out.append((msg, "due"))
        return out

    def run_due(self) -> int:
        """Scheduler job: retry every delivery that is due. Returns how many were attempted."""
        with self.lock() as mine:
            return self._run_due() if mine else 0

    def _run_due(self) -> int:
        return sum(self._act(msg, what) for msg, what in self._sweep())

    def _act(self, msg: Message, what: str) -> int:
        """One message of the sweep; 1 when a delivery was attempted."""
        assert msg.id is not None
        partner = self.partner(msg.partner_id or "")
        if partner is None:
            self.store.update(
                msg.id,
                event="delivery.dead",
                status=ds.DEAD[0],
                delivery_status=ds.DEAD[1],
                reason=f"partner {msg.partner_id!r} is no longer configured; the delivery was abandoned",
            )
            return 0
        if what == "unscheduled":
            with log_context(message_id=msg.id, partner_id=partner.id):
                self._decide(msg, partner)
            return 0
        if what == "pending" and not self._has_channel(partner):
            return 0
        was = {"due": [MessageStatus.retrying], "pending": [MessageStatus.queued], "stale": []}[what]
        if not claim_step(self.store, self.leases, msg.id, was, MessageStatus.sending, self.lease):
            return 0  # another node (a document's recovery, a resend) has it now
        try:
            self.deliver(self.store.get(msg.id), partner)
        finally:
            try:
                self.leases.release(msg.id)
            except Exception:  # the store is down: the lease runs out by itself
                log.warning("delivery.lease_not_released", extra={"fields": {"message_id": msg.id}})
        return 1

    def _expired(self, msg: Message, now: datetime) -> bool:
        """A ``sending`` message whose node stopped renewing its lease or died (AS2 As2Sender rows have their own
        job); the claim decides for certain."""
        if (msg.idempotency_key or "").startswith("as2-out:") or self.leases.held_elsewhere(msg, now):
            return False
        if msg.lease_owner is not None:
            return msg.lease_owner != self.leases.owner or (msg.lease_until is not None and msg.lease_until <= now)
        until: Any = msg.updated_at + self.lease if msg.updated_at else None
        return until is not None and until <= now

    def _has_channel(self, partner: Partner) -> bool:
        channels = getattr(self.outbound, "channels", None)
        return bool(channels(partner)) if callable(channels) else False
