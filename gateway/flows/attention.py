"""The support worklist: everything a person must act on, oldest first, with counts per partner and per kind.

Kinds: ``failed`` (unreadable or rejected inbound), ``quarantined`` (no partner claims it), ``invalid`` (an outbound
document failed our own validation), ``rejected`` (the partner's 997/999/TA1 rejected ours, wholly or partly),
``overdue`` (their acknowledgement, or an AS2 MDN, did not come in time), ``dead`` (delivery retries exhausted),
``duplicate`` (an interchange received again), ``unmatched`` (an acknowledgement answering nothing we sent),
``sla_breach`` (an order or shipment missed a service level declared in a partner file; the item is on the
document the window started at, e.g. the 940 that got no 945 in time).

Shared by ``GET /api/attention``, ``POST /api/attention/{id}/resolve`` and ``gateway attention``. Resolving an item
needs a note; it is recorded on the message's timeline (``attention.resolved``) with the actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.errors import InvalidActionError
from gateway.store import attention as rows
from gateway.store.repository import Store

KINDS = tuple(rows.KINDS)
_EVENT_OF = {
    "rejected": ("ack.rejected", "ack.partially_accepted"),
    "overdue": ("ack.overdue", "mdn."),
    "dead": ("delivery.dead",),
    "sla_breach": ("sla.breached",),
}

_FALLBACK = {
    "invalid": "the document failed our own X12 validation: see its timeline",
    "rejected": "the partner rejected the document: see its timeline",
    "overdue": "the partner's acknowledgement is overdue",
    "sla_breach": "a service level was missed: see the order's timeline",
}


@dataclass(frozen=True, slots=True)
class Item:
    kind: str
    message_id: int
    partner_id: str | None
    direction: str
    status: str
    ack_status: str | None
    file_name: str | None
    set_ids: str | None
    reason: str | None
    since: datetime
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "message_id": self.message_id, "partner_id": self.partner_id,
            "direction": self.direction, "status": self.status, "ack_status": self.ack_status,
            "file_name": self.file_name, "set_ids": self.set_ids, "reason": self.reason,
            "since": self.since.isoformat(), "created_at": self.created_at.isoformat(),
            "link": f"/api/messages/{self.message_id}",
        }


@dataclass(slots=True)
class Worklist:
    items: list[Item]
    total: int
    by_kind: dict[str, int] = field(default_factory=dict)
    by_partner: dict[str, int] = field(default_factory=dict)
    by_partner_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "counts": {"by_kind": self.by_kind, "by_partner": self.by_partner, "by_partner_kind": self.by_partner_kind},
            "items": [i.to_dict() for i in self.items],
        }


def _kinds(kind: str | None) -> list[str]:
    if kind is None:
        return list(KINDS)
    if kind not in KINDS:
        raise InvalidActionError(f"unknown worklist kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    return [kind]


def worklist(store: Store, *, kind: str | None = None, partner: str | None = None, limit: int = 100) -> Worklist:
    kinds = _kinds(kind)
    with store.session() as s:
        found = rows.open_items(s, kinds=kinds, partner=partner, limit=limit)
        counted = rows.counts(s, kinds=kinds, partner=partner)
        items = []
        for k, m in found:
            assert m.id is not None
            reason = m.reason
            prefixes = _EVENT_OF.get(k)
            if prefixes:
                e = rows.last_event(s, m.id, prefixes)
                if e is not None and e.detail:
                    lines = e.detail.get("lines") or []
                    reason = "; ".join(str(x).strip() for x in lines[:6])[:600] or e.detail.get("reason") or reason
            reason = reason or _FALLBACK.get(k) or m.status
            items.append(Item(k, m.id, m.partner_id, m.direction, m.status, m.ack_status, m.file_name, m.set_ids,
                              reason, m.updated_at, m.created_at))
    out = Worklist(items, sum(n for _, _, n in counted))
    for k, pid, n in counted:
        p = pid or "(unknown)"
        out.by_kind[k] = out.by_kind.get(k, 0) + n
        out.by_partner[p] = out.by_partner.get(p, 0) + n
        out.by_partner_kind.setdefault(p, {})[k] = n
    return out


def resolve(store: Store, message_id: int, *, note: str, actor: str, kind: str | None = None) -> list[str]:
    """Resolve the open items of a message (one kind, or all of them); returns the kinds resolved."""
    note = (note or "").strip()
    if not note:
        raise InvalidActionError("a note is required to resolve a worklist item",
                                 hint="say what was done, e.g. 'partner resent the file as 0042'")
    store.get(message_id)  # NotFoundError for an unknown id
    with store.session() as s:
        open_now = rows.open_kinds(s, message_id)
        kinds = [k for k in _kinds(kind) if k in open_now]
        if not kinds:
            raise InvalidActionError(
                f"message {message_id} has no open worklist item" + (f" of kind {kind}" if kind else ""),
                hint="GET /api/attention lists the open items",
            )
        rows.resolve(s, message_id, kinds, actor=actor, note=note[:2000])
        s.commit()
    return kinds
