"""One step of a flow, written in one transaction: the message's fields and status, its events, its lineage,
business keys, outputs and delivery attempts, grouped (the batched store path new flows use).

::

    store.step(message_id, status=MessageStatus.queued, events=[("document.built", MessageStatus.queued, {...})],
               fields={"validation_status": "valid", ...}, lineage=[interchange_record], keys=[("po", "123")],
               outputs=[("canonical", blob, "application/json", "submission.json")])

Lineage rows are bulk-inserted (one statement for every transaction set of a group), so a 10,000-set interchange
is a handful of statements, not 10,000 round trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, insert, or_, update
from sqlmodel import Session

from gateway.errors import NotFoundError
from gateway.store import records
from gateway.store.archive import Blob
from gateway.store.models import Event, FunctionalGroup, Interchange, Message, MessageStatus, TransactionSet
from gateway.store.types import utcnow

if TYPE_CHECKING:
    from gateway.store.repository import InterchangeRecord

EventSpec = tuple[str, MessageStatus | None, dict[str, Any] | None]


@dataclass(slots=True)
class Step:
    """What one step writes. ``status``/``fields`` change the message; the rest is added."""

    status: MessageStatus | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    events: Sequence[EventSpec] = ()
    lineage: Sequence[InterchangeRecord] | None = None  # replaces the message's lineage when given
    keys: Iterable[tuple[str, str]] = ()
    outputs: Sequence[tuple[str, Blob, str | None, str | None]] = ()  # kind, blob, content type, file name
    attempts: Sequence[dict[str, Any]] = ()  # delivery attempts (see records.record_delivery_attempt)
    actor: str = "gateway"


def write_step(session: Session, message_id: int, step: Step) -> Message:
    """Apply ``step`` to the message inside ``session`` (the caller commits)."""
    msg = session.get(Message, message_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if msg is None:
        raise NotFoundError(f"no message with id {message_id}")
    for k, v in step.fields.items():
        setattr(msg, k, v)
    if step.status is not None:
        msg.status = step.status
    msg.updated_at = utcnow()
    session.add(msg)
    for event, status, detail in step.events:
        session.add(Event(message_id=message_id, name=event, status=status, actor=step.actor, detail=detail))
    if step.lineage is not None:
        write_lineage(session, message_id, step.lineage)
    records.record_business_keys(session, message_id, step.keys)
    for kind, blob, content_type, name in step.outputs:
        records.record_output(session, message_id, kind=kind, blob=blob, content_type=content_type, file_name=name)
    for attempt in step.attempts:
        records.record_delivery_attempt(session, message_id, **attempt)
    session.flush()
    return msg


def write_lineage(session: Session, message_id: int, interchanges: Sequence[InterchangeRecord]) -> None:
    for model in (TransactionSet, FunctionalGroup, Interchange):
        session.execute(delete(model).where(model.message_id == message_id))  # type: ignore[attr-defined,arg-type]
    for pos, ic in enumerate(interchanges, start=1):
        isa = Interchange(message_id=message_id, position=pos, sender_qualifier=ic.sender_qualifier,
                          sender_id=ic.sender_id, receiver_qualifier=ic.receiver_qualifier,
                          receiver_id=ic.receiver_id, control_number=ic.control_number, version=ic.version,
                          usage=ic.usage, date=ic.date, time=ic.time)
        session.add(isa)
        session.flush()
        assert isa.id is not None
        for g in ic.groups:
            grp = FunctionalGroup(interchange_id=isa.id, message_id=message_id, functional_id=g.functional_id,
                                  sender_id=g.sender_id, receiver_id=g.receiver_id,
                                  control_number=g.control_number, version=g.version)
            session.add(grp)
            session.flush()
            rows = [{"group_id": grp.id, "message_id": message_id, "set_id": t.set_id,
                     "control_number": t.control_number, "segment_count": t.segment_count, "valid": t.valid,
                     "ack_code": t.ack_code} for t in g.transactions]
            if rows:
                session.execute(insert(TransactionSet.__table__), rows)  # type: ignore[attr-defined]


def claim(session: Session, message_id: int, from_statuses: Sequence[MessageStatus], to: MessageStatus,
          stale: timedelta, owner: str | None = None, mine: bool = False) -> bool:
    """Move the message from one of ``from_statuses`` to ``to`` (or take ``to`` over when its lease ran out),
    atomically: True when this caller got it. The lease is ``lease_owner``/``lease_until`` (``owner``, now +
    ``stale``; the owner renews it while working); a row claimed before leases existed falls back to ``stale``
    since its last update. ``mine``: the caller has just taken the lease itself (it was free, ran out, or its
    owner is dead: :meth:`gateway.store.leases.MessageLeases.take`), so a step leased to ``owner`` is taken over."""
    now = utcnow()
    tbl = Message.__table__  # type: ignore[attr-defined]
    expired = or_(tbl.c.lease_until < now, and_(tbl.c.lease_until.is_(None), tbl.c.updated_at <= now - stale))
    if mine and owner:
        expired = or_(expired, tbl.c.lease_owner == owner)
    stmt = (
        update(tbl)
        .where(tbl.c.id == message_id,
               or_(tbl.c.status.in_([s.value for s in from_statuses]), and_(tbl.c.status == to.value, expired)))
        .values(status=to.value, updated_at=now, lease_owner=owner, lease_until=now + stale if owner else None)
    )
    got = session.execute(stmt).rowcount  # type: ignore[attr-defined]
    if got:
        detail = {"status": to.value, **({"node": owner} if owner else {})}
        session.add(Event(message_id=message_id, name="step.claimed", status=to, detail=detail))
    return bool(got)
