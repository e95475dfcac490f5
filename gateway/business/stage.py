"""The stage of an order or shipment and its milestones, from the documents on its timeline (pure).

A document is what the store holds for one message: its transaction sets, direction, time and the canonical records
mapped from it (dicts, as archived). What counts, by transaction set and record:

==========  ============================================================================================
940 order   ``ordered`` (W05; a purpose of ``cancel`` makes the order an ``exception``)
945 / 856   ``shipped`` (W06 / BSN; a purpose of ``cancel`` is an ``exception``)
214 status  AT7-01 status codes (or the words a partner's mapping table turns them into): pickup (``AF``
            departed pickup, ``X3`` arrived at pickup, ``CP`` completed loading, ``P1`` picked up) and any
            other movement -> ``in_transit``; ``X6`` en route to delivery (4010; ``OD`` out for delivery in
            later versions) -> ``in_transit`` (milestone ``out_for_delivery``); ``D1`` completed unloading,
            ``CD`` carrier departed delivery location -> ``delivered``; ``A3`` returned, ``A7`` refused,
            ``A9`` damaged, ``AP`` delivery not completed, ``SD`` delayed, ``CA`` cancelled, ``AN``
            diverted -> ``exception`` (until a later delivery)
==========  ====================================================================================================

Milestones are the times the gateway received or sent the document that reached them (``at``), so that a service
level is measured on the gateway's own clock; the dates written in the documents are shown on the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STAGES = ("ordered", "shipped", "in_transit", "delivered", "exception")
MILESTONES = ("ordered", "shipped", "picked_up", "first_status", "out_for_delivery", "delivered")

# X12 AT7-01 codes, and the words a partner's mapping table may turn them into (alink-carrier.mapping.yaml:
# ``AF: departed_pickup``); a partner table that gives a code another meaning wins, because the record holds its word
PICKUP = frozenset({"AF", "X3", "CP", "P1", "AA", "DEPARTED_PICKUP", "ARRIVED_AT_PICKUP", "PICKED_UP",
                    "COMPLETED_LOADING"})
OUT_FOR_DELIVERY = frozenset({"OD", "X6", "OUT_FOR_DELIVERY", "EN_ROUTE_TO_DELIVERY"})
DELIVERED = frozenset({"D1", "CD", "DELIVERED", "COMPLETED_UNLOADING"})
EXCEPTION = frozenset({"A3", "A7", "A9", "AP", "SD", "CA", "AN", "RETURNED", "REFUSED", "DAMAGED",
                       "DELIVERY_NOT_COMPLETED", "DELAYED", "CANCELLED", "DIVERTED"})
STATUS_WORDS = {
    "AF": "departed pickup location", "X3": "arrived at pickup location", "CP": "completed loading",
    "P1": "picked up", "AA": "pickup appointment", "OD": "out for delivery", "X6": "en route to delivery",
    "X1": "arrived at delivery location", "D1": "completed unloading (delivered)",
    "CD": "departed delivery location (delivered)", "A3": "returned to shipper", "A7": "refused by consignee",
    "A9": "shipment damaged", "AP": "delivery not completed", "SD": "shipment delayed", "CA": "cancelled",
    "K2": "arrived at terminal", "X4": "arrived at terminal", "AM": "loaded on vessel", "AN": "diverted",
}
STATUS_WORDS.update({w: w.replace("_", " ").lower() for w in PICKUP | OUT_FOR_DELIVERY | DELIVERED | EXCEPTION
                     if len(w) > 2})


@dataclass(slots=True)
class Doc:
    """One message on a business timeline."""

    message_id: int
    direction: str
    partner_id: str | None
    at: datetime
    set_ids: list[str]
    status: str
    validation_status: str | None = None
    delivery_status: str | None = None
    ack_status: str | None = None
    file_name: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)

    def sets(self) -> set[str]:
        return {s for s in self.set_ids if s}

    def usable(self) -> bool:
        """Rejected, quarantined, duplicate or invalid messages do not move an order forward."""
        return self.status not in ("failed", "quarantined", "duplicate", "unmatched") and \
            self.validation_status != "invalid"


@dataclass(slots=True)
class Progress:
    stage: str
    milestones: dict[str, datetime]
    reason: str | None = None  # why the stage is ``exception``
    statuses: list[dict[str, Any]] = field(default_factory=list)  # every AT7 seen, in time order


def _records(doc: Doc, kind: str) -> list[dict[str, Any]]:
    return [r for r in doc.records if isinstance(r, dict) and r.get("type") == kind]


def summarise(records: Iterable[Any]) -> list[dict[str, Any]]:
    """What :func:`progress` reads of a document's records, in a few small dicts whatever their number: an order and
    a shipment record per distinct purpose (only ``purpose`` kept), and each distinct status code's first event (in
    the order first seen). ``progress(docs)`` is the same on summarised records; a 10,000-set 856 summarises to
    one record. Records are read one at a time (an iterator over a streamed canonical output)."""
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        kind = rec.get("type") if isinstance(rec, dict) else None
        if kind in ("order", "shipment"):
            purpose = rec.get("purpose")
            kept.setdefault((kind, str(purpose or "").lower()), {"type": kind, "purpose": purpose})
        elif kind == "status":
            for event in rec.get("events") or []:
                code = str(event.get("status_code") or "").strip().upper().replace(" ", "_")
                if code:
                    kept.setdefault(("status", code), {"type": "status", "events": [event]})
    return list(kept.values())


def progress(docs: list[Doc]) -> Progress:
    """The stage and milestones of the documents (any order; sorted by time here)."""
    milestones: dict[str, datetime] = {}
    statuses: list[dict[str, Any]] = []
    exception: str | None = None
    seen: set[tuple[int, str]] = set()

    def reach(name: str, at: datetime) -> None:
        if name not in milestones or at < milestones[name]:
            milestones[name] = at

    for doc in sorted(docs, key=lambda d: (d.at, d.message_id)):
        if not doc.usable():
            continue
        sets = doc.sets()
        orders = _records(doc, "order")
        if "940" in sets or orders:
            reach("ordered", doc.at)
            if any(str(o.get("purpose") or "").lower() == "cancel" for o in orders):
                exception = "the order was cancelled (940 purpose cancel)"
        shipments = _records(doc, "shipment")
        if sets & {"945", "856"} or shipments:
            reach("shipped", doc.at)
            if any(str(s.get("purpose") or "").lower() == "cancel" for s in shipments):
                exception = "the shipping advice was cancelled"
        status_records = _records(doc, "status")
        if "214" in sets or status_records:
            reach("first_status", doc.at)
        for rec in status_records:
            for event in rec.get("events") or []:
                code = str(event.get("status_code") or "").strip().upper().replace(" ", "_")
                if not code or (doc.message_id, code) in seen:
                    continue  # one 214 repeating a status for every stop counts once
                seen.add((doc.message_id, code))
                statuses.append({"message_id": doc.message_id, "code": code,
                                 "meaning": STATUS_WORDS.get(code, code), "reason": event.get("reason_code"),
                                 "timestamp": event.get("timestamp"), "location": event.get("location"),
                                 "received_at": doc.at.isoformat()})
                if code in PICKUP:
                    reach("picked_up", doc.at)
                elif code in OUT_FOR_DELIVERY:
                    reach("out_for_delivery", doc.at)
                if code in DELIVERED:
                    reach("delivered", doc.at)
                    exception = None  # delivered after all
                elif code in EXCEPTION:
                    exception = f"carrier status {code}: {STATUS_WORDS.get(code, code)}"
    if exception:
        stage = "exception"
    elif "delivered" in milestones:
        stage = "delivered"
    elif "first_status" in milestones:
        stage = "in_transit"
    elif "shipped" in milestones:
        stage = "shipped"
    else:
        stage = "ordered"
    return Progress(stage, milestones, exception, statuses)


def parties(docs: list[Doc]) -> list[dict[str, Any]]:
    """Distinct parties (role, name, id) named by the records, first seen first."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for doc in sorted(docs, key=lambda d: (d.at, d.message_id)):
        for rec in doc.records:
            if not isinstance(rec, dict):
                continue
            for p in rec.get("parties") or []:
                key = (p.get("role"), p.get("name"), p.get("id"))
                if key not in seen:
                    seen[key] = {"role": p.get("role"), "name": p.get("name"), "id_qualifier": p.get("id_qualifier"),
                                 "id": p.get("id"), "city": p.get("city"), "state": p.get("state"),
                                 "from_message": doc.message_id}
    return list(seen.values())
