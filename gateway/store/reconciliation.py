"""Store side of acknowledgement reconciliation: find what we sent by its control numbers, and record a partner's
verdict (set ack codes, the document's acknowledgement status, links both ways, timeline events) in ONE transaction.

Control numbers are matched through every zero-padded spelling (see
:func:`gateway.edi.x12.ack_read.control_variants`), so the lookups use the indexes on ``control_number``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gateway.edi.x12.ack_read import control_variants
from gateway.store.models import (
    AckLink,
    AckStatus,
    Direction,
    Event,
    FunctionalGroup,
    Interchange,
    Message,
    TransactionSet,
)
from gateway.store.repository import Store
from gateway.store.types import utcnow


@dataclass(frozen=True, slots=True)
class SentSet:
    """One transaction set of ours, as recorded in an outbound message's lineage."""

    message_id: int
    group_id: int
    set_row_id: int
    set_id: str
    control_number: str | None
    group_version: str | None


@dataclass(slots=True)
class Verdict:
    """What one acknowledgement says about one outbound message."""

    message_id: int
    kind: str  # "997", "999", "TA1"
    result: str  # A, E, P, R
    set_codes: dict[int, str] = field(default_factory=dict)  # transaction_set row id -> A/E/R
    detail: dict[str, Any] = field(default_factory=dict)  # event detail on the outbound message (readable lines)


def aggregate(codes: Iterable[str | None]) -> str | None:
    """An outbound document's acknowledgement status from its sets' codes (unknown sets are ignored)."""
    known = [c for c in codes if c]
    if not known:
        return None
    if all(c == "A" for c in known):
        return AckStatus.accepted.value
    if all(c in ("A", "E") for c in known):
        return AckStatus.accepted_with_errors.value
    if all(c == "R" for c in known):
        return AckStatus.rejected.value
    return AckStatus.partially_accepted.value


class AckRows:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- matching ----------------------------------------------------------------------------------------
    def sent_groups(self, partner_id: str, functional_id: str, group_control: str) -> list[FunctionalGroup]:
        """Our outbound groups with this GS01/GS06 to this partner, newest first."""
        with self.store.session() as s:
            q = (
                select(FunctionalGroup)
                .join(Message, col(Message.id) == FunctionalGroup.message_id)
                .where(
                    Message.direction == Direction.outbound,
                    Message.partner_id == partner_id,
                    FunctionalGroup.functional_id == functional_id,
                    col(FunctionalGroup.control_number).in_(control_variants(group_control)),
                )
                .order_by(col(FunctionalGroup.id).desc())
            )
            return list(s.exec(q).all())

    def sets_of_group(self, group_id: int) -> list[SentSet]:
        with self.store.session() as s:
            grp = s.get(FunctionalGroup, group_id)
            q = select(TransactionSet).where(TransactionSet.group_id == group_id).order_by(col(TransactionSet.id))
            return [
                SentSet(t.message_id, t.group_id, t.id or 0, t.set_id, t.control_number, grp.version if grp else None)
                for t in s.exec(q).all()
            ]

    def sent_interchanges(self, partner_id: str, isa13: str) -> list[Interchange]:
        """Our outbound interchanges with this ISA13 to this partner, newest first."""
        with self.store.session() as s:
            q = (
                select(Interchange)
                .join(Message, col(Message.id) == Interchange.message_id)
                .where(
                    Message.direction == Direction.outbound,
                    Message.partner_id == partner_id,
                    col(Interchange.control_number).in_(control_variants(isa13)),
                )
                .order_by(col(Interchange.id).desc())
            )
            return list(s.exec(q).all())

    def sets_of_interchange(self, interchange_id: int) -> list[SentSet]:
        with self.store.session() as s:
            groups = s.exec(select(FunctionalGroup).where(FunctionalGroup.interchange_id == interchange_id)).all()
            out: list[SentSet] = []
            for g in groups:
                assert g.id is not None
                q = select(TransactionSet).where(TransactionSet.group_id == g.id).order_by(col(TransactionSet.id))
                out += [SentSet(t.message_id, g.id, t.id or 0, t.set_id, t.control_number, g.version)
                        for t in s.exec(q).all()]
            return out

    # -- recording ---------------------------------------------------------------------------------------
    def record(self, ack_message_id: int, verdicts: Sequence[Verdict], *, ack_event: dict[str, Any],
               now: datetime | None = None) -> dict[int, str | None]:
        """Apply every verdict and the acknowledgement's own ``ack.reconciled`` event in one transaction.
        Returns the new acknowledgement status of each outbound message."""
        now = now or utcnow()
        statuses: dict[int, str | None] = {}
        with self.store.session() as s:
            sets = TransactionSet.__table__  # type: ignore[attr-defined]
            for v in verdicts:
                by_code: dict[str, list[int]] = {}
                for row_id, code in v.set_codes.items():
                    by_code.setdefault(code, []).append(row_id)
                for code, ids in by_code.items():  # one UPDATE per code, in chunks the backends accept
                    for i in range(0, len(ids), 500):
                        s.execute(update(sets).where(sets.c.id.in_(ids[i:i + 500])).values(ack_code=code))
                msg = s.get(Message, v.message_id)
                if msg is None:
                    continue
                codes = s.exec(select(TransactionSet.ack_code).where(TransactionSet.message_id == v.message_id)).all()
                status = aggregate(codes)
                if status is not None:
                    msg.ack_status = status
                    msg.updated_at = now
                    s.add(msg)
                statuses[v.message_id] = msg.ack_status
                if _linked(s, v.message_id, ack_message_id, v.kind):
                    continue  # recorded before (a resumed or reprocessed acknowledgement): once on the timeline
                s.add(Event(message_id=v.message_id, name=f"ack.{msg.ack_status or 'received'}", at=now,
                            detail={**v.detail, "ack_message_id": ack_message_id, "kind": v.kind,
                                    "result": v.result, "ack_status": msg.ack_status}))
                s.add(AckLink(message_id=v.message_id, ack_message_id=ack_message_id, kind=v.kind, result=v.result))
            s.add(Event(message_id=ack_message_id, name="ack.reconciled", at=now, detail=ack_event))
            try:
                s.commit()
            except IntegrityError:  # a concurrent reconcile of the same acknowledgement linked first
                s.rollback()
                raise
        return statuses


def _linked(s: Session, message_id: int, ack_message_id: int, kind: str) -> bool:
    q = select(AckLink).where(
        AckLink.message_id == message_id, AckLink.ack_message_id == ack_message_id, AckLink.kind == kind
    )
    return s.exec(q).first() is not None


def claim_overdue(store: Store, *, now: datetime, limit: int = 200) -> list[Message]:
    """Mark documents whose acknowledgement is past due ``overdue`` and put ``ack.overdue`` on their timelines, in one
    transaction; returns the messages this caller claimed. Several nodes may run this at once: on PostgreSQL the
    candidate rows are locked ``FOR UPDATE SKIP LOCKED``, and on every backend the guarded UPDATE
    (``... WHERE ack_status = 'waiting'``) lets exactly one caller claim a row."""
    waiting = AckStatus.waiting.value
    tbl = Message.__table__  # type: ignore[attr-defined]
    claimed: list[Message] = []
    with store.session() as s:
        q = (
            select(Message)
            .where(Message.ack_status == waiting, col(Message.ack_due_at).is_not(None),
                   col(Message.ack_due_at) <= now)
            .order_by(col(Message.ack_due_at))
            .limit(limit)
        )
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        for msg in s.exec(q).all():
            res = s.execute(
                update(tbl).where(tbl.c.id == msg.id, tbl.c.ack_status == waiting)
                .values(ack_status=AckStatus.overdue.value, updated_at=now)
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another node claimed it first
            assert msg.id is not None and msg.ack_due_at is not None
            late = now - msg.ack_due_at
            s.add(Event(message_id=msg.id, name="ack.overdue", at=now, status=None, detail={
                "due": msg.ack_due_at.isoformat(), "late_seconds": int(late.total_seconds()),
                "reason": f"no acknowledgement from {msg.partner_id} since it was due at "
                          f"{msg.ack_due_at:%Y-%m-%d %H:%M} UTC",
            }))
            msg.ack_status = AckStatus.overdue.value
            claimed.append(msg)
        s.commit()
    return claimed


def count_events(store: Store, message_id: int, name: str) -> int:
    with store.session() as s:
        return len(s.exec(select(Event.id).where(Event.message_id == message_id, Event.name == name)).all())
