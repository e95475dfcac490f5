"""The store side of outbound AS2: :class:`As2Transmission` rows (one per AS2 message we built) and the writes
that go with an MDN, each step in one transaction.

A transmission is found again by its ``delivery_key`` (the outbound message and channel, or for a bare ``send``
the channel, file name and payload hash) to retry it with the same bytes, and by its AS2 Message-ID when an
asynchronous MDN arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from gateway.store.models import (
    AckLink,
    As2Transmission,
    Direction,
    Event,
    Message,
    MessageStatus,
)
from gateway.store.models import As2TransmissionState as State
from gateway.store.repository import Store
from gateway.store.types import utcnow

#: a new send of the same document reuses the last transmission in these states (same bytes, same Message-ID):
#: the partner may hold it already. After a final answer (delivered, rejected, refused) a send builds anew.
REUSABLE = frozenset({State.built, State.retrying, State.awaiting_mdn, State.overdue})
JUDGED = frozenset({State.delivered, State.rejected})


@dataclass(frozen=True, slots=True)
class MessageChange:
    """What an MDN changes on the outbound message it answers (status, delivery facet, reason, timeline)."""

    event: str
    status: MessageStatus
    delivery_status: str
    reason: str | None
    error: dict[str, Any] | None
    detail: dict[str, Any]


class Transmissions:
    def __init__(self, store: Store) -> None:
        self.store = store

    def latest(self, delivery_key: str) -> As2Transmission | None:
        with self.store.session() as s:
            q = (
                select(As2Transmission)
                .where(As2Transmission.delivery_key == delivery_key)
                .order_by(col(As2Transmission.id).desc())
            )
            return s.exec(q).first()

    def by_as2_message_id(self, as2_message_id: str) -> As2Transmission | None:
        with self.store.session() as s:
            q = select(As2Transmission).where(As2Transmission.as2_message_id == as2_message_id)
            return s.exec(q).first()

    def get(self, tx_id: int) -> As2Transmission:
        with self.store.session() as s:
            tx = s.get(As2Transmission, tx_id)
            assert tx is not None
            return tx

    def create(self, tx: As2Transmission, *, event: tuple[str, dict[str, Any]] | None = None) -> As2Transmission:
        """Record a built transmission (and the ``as2.built`` event on its message), in one transaction."""
        with self.store.session() as s:
            s.add(tx)
            if event is not None and tx.message_id is not None:
                s.add(Event(message_id=tx.message_id, name=event[0], detail=event[1]))
            s.commit()
            s.refresh(tx)
            return tx

    def attempting(self, tx_id: int) -> None:
        with self.store.session() as s:
            s.execute(
                update(As2Transmission)
                .where(col(As2Transmission.id) == tx_id)
                .values(attempts=As2Transmission.attempts + 1, updated_at=utcnow())
            )
            s.commit()

    def set_state(self, tx_id: int, state: State, *, only_from: Iterable[State] | None = None, **fields: Any) -> bool:
        """Move a transmission to ``state``; with ``only_from``, only when it is in one of those states (an MDN
        that arrived in the meantime is never overwritten). True when the row changed."""
        q = update(As2Transmission).where(col(As2Transmission.id) == tx_id)
        if only_from is not None:
            q = q.where(col(As2Transmission.state).in_([str(x) for x in only_from]))
        with self.store.session() as s:
            n = s.execute(q.values(state=str(state), updated_at=utcnow(), **fields)).rowcount  # type: ignore[attr-defined]
            s.commit()
            return bool(n)

    def record_mdn(
        self,
        tx: As2Transmission,
        *,
        state: State,
        mdn_fields: dict[str, Any],
        result: str | None,
        facts: dict[str, Any],
        change: MessageChange | None,
        event: str = "mdn.received",
    ) -> tuple[Message, Message | None]:
        """One transaction: the MDN as an inbound message (archived by the caller), linked to the outbound message
        it answers, the transmission's new state, and (``change``) the outbound message's new statuses."""
        assert tx.id is not None
        with self.store.session() as s:
            mdn = Message(
                direction=Direction.inbound, status=MessageStatus.processed, document_format="mdn", **mdn_fields
            )
            s.add(mdn)
            s.flush()
            assert mdn.id is not None
            s.add(Event(message_id=mdn.id, name=event, status=MessageStatus.processed, detail=facts))
            s.execute(
                update(As2Transmission)
                .where(col(As2Transmission.id) == tx.id)
                .values(state=str(state), mdn_message_id=mdn.id, updated_at=utcnow(), last_error=facts.get("reason"))
            )
            target = s.get(Message, tx.message_id) if tx.message_id is not None else None
            if target is not None:
                s.add(AckLink(message_id=target.id, ack_message_id=mdn.id, kind="MDN", result=result))  # type: ignore[arg-type]
                s.add(Event(message_id=target.id, name=event, detail={**facts, "mdn_message_id": mdn.id}))  # type: ignore[arg-type]
                if change is not None:
                    apply_change(s, target, change)
            s.commit()
            return mdn, target

    def apply(self, message_id: int, change: MessageChange) -> Message:
        with self.store.session() as s:
            msg = s.get(Message, message_id)
            assert msg is not None
            apply_change(s, msg, change)
            s.commit()
            return msg

    def awaiting_past(self, now: datetime) -> list[As2Transmission]:
        with self.store.session() as s:
            q = select(As2Transmission).where(
                As2Transmission.state == str(State.awaiting_mdn), col(As2Transmission.mdn_due_at) <= now
            )
            return list(s.exec(q).all())

    def judged_since(self, since: datetime) -> list[As2Transmission]:
        """Async transmissions with an MDN verdict, changed since ``since`` (for the reconciling sweep)."""
        with self.store.session() as s:
            q = select(As2Transmission).where(
                col(As2Transmission.state).in_([str(x) for x in JUDGED]),
                col(As2Transmission.message_id).is_not(None),
                col(As2Transmission.updated_at) >= since,
            )
            return [t for t in s.exec(q).all() if (t.options or {}).get("mdn") == "async"]


def apply_change(s: Any, msg: Message, change: MessageChange) -> None:
    assert msg.id is not None
    msg.status = change.status
    msg.delivery_status = change.delivery_status
    msg.reason = change.reason
    msg.error = change.error
    msg.updated_at = utcnow()
    s.add(msg)
    s.add(Event(message_id=msg.id, name=change.event, status=change.status, detail=change.detail))


RECONCILE_WINDOW = timedelta(days=7)
