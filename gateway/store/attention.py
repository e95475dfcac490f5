"""Store side of the support worklist: which messages need a person, per kind, and their resolutions.

An item is a (message, kind) pair whose condition holds and that nobody resolved since the message last changed
(``attention_resolution.resolved_at >= message.updated_at`` hides it; a later change, such as a reprocess that
fails again, brings it back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, exists, func, or_
from sqlmodel import Session, col, select

from gateway.store.models import (
    AckStatus,
    AttentionResolution,
    Event,
    Message,
    MessageStatus,
    SlaBreach,
    ValidationStatus,
)
from gateway.store.types import utcnow

#: kind -> the condition on ``message`` that puts it on the worklist
KINDS: dict[str, Any] = {
    "failed": col(Message.status) == MessageStatus.failed.value,
    "quarantined": col(Message.status) == MessageStatus.quarantined.value,
    "invalid": col(Message.validation_status) == ValidationStatus.invalid.value,
    "rejected": col(Message.ack_status).in_([AckStatus.rejected.value, AckStatus.partially_accepted.value]),
    "overdue": or_(col(Message.ack_status) == AckStatus.overdue.value,
                   col(Message.status) == MessageStatus.mdn_overdue.value),
    "dead": col(Message.status) == MessageStatus.dead.value,
    "duplicate": col(Message.status) == MessageStatus.duplicate.value,
    "unmatched": col(Message.status) == MessageStatus.unmatched.value,
    # an order or shipment missed a service level; the item is on the document its window started at
    "sla_breach": exists().where(col(SlaBreach.message_id) == col(Message.id)),
}


def _open(kind: str) -> Any:
    resolved = exists().where(
        col(AttentionResolution.message_id) == col(Message.id),
        col(AttentionResolution.kind) == kind,
        col(AttentionResolution.resolved_at) >= Message.updated_at,
    )
    return and_(KINDS[kind], ~resolved)


def open_items(s: Session, *, kinds: Sequence[str], partner: str | None, limit: int) -> list[tuple[str, Message]]:
    """Open items, oldest first, at most ``limit``."""
    out: list[tuple[str, Message]] = []
    for kind in kinds:
        q = select(Message).where(_open(kind))
        if partner:
            q = q.where(Message.partner_id == partner)
        q = q.order_by(col(Message.created_at), col(Message.id)).limit(limit)
        out += [(kind, m) for m in s.exec(q).all()]
    out.sort(key=lambda km: (km[1].created_at, km[1].id or 0, km[0]))
    return out[:limit]


def counts(s: Session, *, kinds: Sequence[str], partner: str | None) -> list[tuple[str, str | None, int]]:
    """(kind, partner id, open items) for every pair with at least one."""
    out: list[tuple[str, str | None, int]] = []
    for kind in kinds:
        q = select(Message.partner_id, func.count()).where(_open(kind)).group_by(Message.partner_id)
        if partner:
            q = q.where(Message.partner_id == partner)
        out += [(kind, pid, int(n)) for pid, n in s.exec(q).all()]
    return out


def open_kinds(s: Session, message_id: int) -> list[str]:
    msg_kinds = []
    for kind in KINDS:
        if s.exec(select(Message.id).where(Message.id == message_id, _open(kind))).first() is not None:
            msg_kinds.append(kind)
    return msg_kinds


def resolve(s: Session, message_id: int, kinds: Sequence[str], *, actor: str, note: str) -> None:
    """Record the resolution of ``kinds`` and the ``attention.resolved`` event (the caller commits)."""
    now = utcnow()
    for kind in kinds:
        s.add(AttentionResolution(message_id=message_id, kind=kind, resolved_at=now, actor=actor, note=note))
    s.add(Event(message_id=message_id, name="attention.resolved", at=now, actor=actor,
                detail={"kinds": list(kinds), "note": note}))


def last_event(s: Session, message_id: int, prefixes: Sequence[str]) -> Event | None:
    q = select(Event).where(Event.message_id == message_id).order_by(col(Event.id).desc()).limit(50)
    for e in s.exec(q).all():
        if any(e.name.startswith(p) for p in prefixes):
            return e
    return None
