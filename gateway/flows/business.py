"""One business timeline per order and shipment: ``GET /api/orders/{key}``, ``GET /api/shipments/{key}`` and
``gateway orders show KEY``.

Joins the store (:mod:`gateway.store.business`: the messages sharing the normalised key, their acknowledgements,
hand-offs and breaches) with the archive (the canonical records mapped from, or submitted for, each message) and
the pure core (:mod:`gateway.business`: stage, quantities, parties, service levels).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gateway.business import stage as stages
from gateway.business.keys import OBJECT_KINDS, normalise
from gateway.business.quantities import compare
from gateway.business.service_levels import Level
from gateway.canonical.jsonio import iter_documents
from gateway.errors import InvalidActionError, NotFoundError
from gateway.logging import get_logger
from gateway.partners.schema import Partner
from gateway.store import business as rows
from gateway.store.archive import Archive
from gateway.store.db import reader
from gateway.store.models import TERMINAL
from gateway.store.repository import Store

log = get_logger(__name__)
KINDS = tuple(OBJECT_KINDS)
SUMMARIES = 1024  # summaries of canonical outputs remembered (a few small dicts each)


RECORD_TYPES = ("order", "shipment", "status")


def records_of(archive: Archive, message_id: int, archive_key: str | None, *, summary: bool = False,
               ) -> list[dict[str, Any]]:
    """The canonical records of a message (mapped from it, or submitted for it); [] when none or unreadable.
    Read one record at a time; ``summary``: only what the stage needs (:func:`gateway.business.stage.summarise`:
    a few small dicts whatever the number of records, so a 10,000-set interchange never sits in memory)."""
    if not archive_key:
        return []
    try:
        with archive.open(archive_key) as fp:
            found = (d for d in iter_documents(fp, loose=True) if isinstance(d, dict) and d.get("type") in RECORD_TYPES)
            return stages.summarise(found) if summary else list(found)
    except Exception as exc:  # a purged or damaged output only hides quantities, never the timeline
        log.warning("business.records_unreadable", extra={"fields": {"message_id": message_id,
                                                                      "error": type(exc).__name__}})
        return []


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _kind(kind: str) -> str:
    if kind not in OBJECT_KINDS:
        raise InvalidActionError(f"unknown business object kind {kind!r}", hint="order or shipment")
    return kind


def levels_for(partners: list[Partner]) -> list[Level]:
    return [Level(p.id, s.name, s.start, s.to, s.within) for p in partners for s in p.service_levels]


class Timelines:
    """Builds timelines; ``partners(id)`` gives a loaded partner file (or None)."""

    def __init__(self, store: Store, archive: Archive, partners: Callable[[str], Partner | None]) -> None:
        self.store = store
        self.archive = archive
        self.partners = partners
        self._summaries: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()  # archive key -> summary (LRU)

    def summary(self, message_id: int, archive_key: str | None) -> list[dict[str, Any]]:
        """:func:`records_of` summarised, remembered per archive key (an archived output never changes): the
        service-level check looks at an unsettled object every few seconds, and reading the records of a
        100,000-set interchange takes seconds."""
        if not archive_key:
            return []
        found = self._summaries.get(archive_key)
        if found is None:
            found = records_of(self.archive, message_id, archive_key, summary=True)
            self._summaries[archive_key] = found
            while len(self._summaries) > SUMMARIES:
                self._summaries.popitem(last=False)
        else:
            self._summaries.move_to_end(archive_key)
        return found

    def documents(self, kind: str, key: str) -> tuple[str, list[int]]:
        norm = normalise(key)
        if not norm:
            raise InvalidActionError(f"{key!r} is not a usable business key", hint="give a PO, order number, "
                                     "shipment id, BOL, PRO or tracking number")
        with reader(self.store.engine) as conn:
            return norm, rows.related_messages(conn, _kind(kind), norm)

    def docs(self, related: rows.Related, *, summary: bool = False) -> list[stages.Doc]:
        """The documents of a timeline; ``summary``: records reduced to what the stage needs (the service-level
        check), not the whole records the timeline shows (quantities, parties)."""
        out = []
        for m in related.messages:
            out.append(stages.Doc(
                message_id=m.id, direction=m.direction, partner_id=m.partner_id, at=_aware(m.created_at),
                set_ids=[s for s in (m.set_ids or "").split(",") if s], status=m.status,
                validation_status=m.validation_status, delivery_status=m.delivery_status, ack_status=m.ack_status,
                file_name=m.file_name,
                records=self.summary(m.id, related.canonical.get(m.id)) if summary
                else records_of(self.archive, m.id, related.canonical.get(m.id))))
        return sorted(out, key=lambda d: (d.at, d.message_id))

    def partner_files(self, docs: list[stages.Doc]) -> list[Partner]:
        found = []
        for pid in dict.fromkeys(d.partner_id for d in docs if d.partner_id):
            p = self.partners(pid)
            if p is not None:
                found.append(p)
        return found

    def timeline(self, kind: str, key: str) -> dict[str, Any]:
        norm = normalise(key)
        if not norm:
            raise InvalidActionError(f"{key!r} is not a usable business key", hint="give a PO, order number, "
                                     "shipment id, BOL, PRO or tracking number")
        with reader(self.store.engine) as conn:  # one connection, three statements (round trips) at most
            related = rows.load_related(conn, _kind(kind), norm)
            ids = [m.id for m in related.messages]
            if not ids:
                raise NotFoundError(f"no {kind} {key!r}: no message carries that key",
                                    hint="keys are matched without case, punctuation or leading zeros")
            own = OBJECT_KINDS[kind]
            norms = [normalise(v) for ks in related.keys.values() for k, v in ks if k in own]
            obj = rows.find_object(conn, kind, norm, ids, norms)
            # the object counts its breaches in the transaction that records them: none, nothing to read
            breaches = rows.breaches_of(conn, obj.id) if obj is not None and obj.breaches else []
        docs = self.docs(related)
        progress = stages.progress(docs)
        by_id = {m.id: m for m in related.messages}
        documents = []
        for d in docs:
            m = by_id[d.message_id]
            documents.append({
                "message_id": d.message_id, "at": d.at.isoformat(), "direction": d.direction,
                "partner_id": d.partner_id, "sets": d.set_ids, "file_name": d.file_name, "status": d.status,
                "validation_status": d.validation_status, "delivery_status": d.delivery_status,
                "acknowledgement_status": d.ack_status, "handoff_status": m.handoff_status,
                "reason": m.reason, "business_keys": [{"kind": k, "value": v} for k, v in related.keys[d.message_id]],
                "acknowledgements": related.acks[d.message_id], "handoffs": related.handoffs[d.message_id],
                "service_level_events": related.sla_events[d.message_id],
                "link": f"/api/messages/{d.message_id}",
            })
        levels = levels_for(self.partner_files(docs))
        return {
            "kind": kind, "key": key, "normalised_key": norm,
            "object": None if obj is None else {
                "id": obj.id, "key": obj.key, "partner_id": obj.partner_id,
                "first_at": _aware(obj.first_at).isoformat(),
                "last_at": _aware(obj.last_at).isoformat(), "breaches": obj.breaches,
                "next_check_at": _aware(obj.check_due_at).isoformat() if obj.check_due_at else None},
            "stage": progress.stage, "exception": progress.reason,
            "milestones": {k: v.isoformat() for k, v in sorted(progress.milestones.items(), key=lambda kv: kv[1])},
            "carrier_statuses": progress.statuses,
            "quantities": compare(docs),
            "parties": stages.parties(docs),
            "documents": documents,
            "truncated": len(ids) >= rows.MAX_MESSAGES,
            "service_levels": [{"partner": lv.partner_id, "name": lv.name, "start": lv.start, "expected": lv.to,
                                "within_hours": lv.within.total_seconds() / 3600,
                                "measured_on": "order" if lv.start == "ordered" else "shipment"} for lv in levels],
            "breaches": [{"service_level": b.level.split(":", 1)[-1], "partner": b.partner_id, "kind": b.kind,
                          "message_id": b.message_id, "due_at": _aware(b.due_at).isoformat(),
                          "detected_at": _aware(b.detected_at).isoformat(),
                          "reason": (b.detail or {}).get("reason")} for b in breaches],
        }

    def listing(self, kind: str, *, partner: str | None = None, stage: str | None = None,
                since: datetime | None = None, until: datetime | None = None, breached: bool | None = None,
                limit: int = 50, offset: int = 0) -> dict[str, Any]:
        if stage is not None and stage not in stages.STAGES:
            raise InvalidActionError(f"unknown stage {stage!r}", hint=f"one of {', '.join(stages.STAGES)}")
        with reader(self.store.engine) as conn:
            found, total = rows.list_objects(conn, _kind(kind), partner=partner, stage=stage, since=since,
                                             until=until, breached=breached, limit=limit, offset=offset)
        base = "/api/orders/" if kind == "order" else "/api/shipments/"
        return {"total": total, "items": [
            {"key": o.key, "normalised_key": o.norm, "partner_id": o.partner_id, "stage": o.stage,
             "first_at": _aware(o.first_at).isoformat(), "last_at": _aware(o.last_at).isoformat(),
             "breaches": o.breaches, "link": base + o.key} for o in found]}


def unsettled(docs: list[stages.Doc]) -> bool:
    """A document still on its way (its records may not be mapped yet): look again soon."""
    return any(d.status not in {s.value for s in TERMINAL} for d in docs)
