"""The service-level job: keeps the order/shipment index current and finds service-level breaches.

Each run (the ``business.service_levels`` scheduler job, every ``service_level_check_seconds``):

1. **index** -- business keys recorded since the last run make or touch their orders and shipments
   (:func:`gateway.store.business_index.index_new_keys`: chunks of 1,000 key rows, one short transaction each, memory
   and work bounded whatever the size of a message or the number of messages sharing a key; the cursor moves with a
   guarded UPDATE, so nodes sharing a PostgreSQL store never index a row twice, and a crash loses no more than the
   chunk being written). On SQLite the job pauses after each chunk as long as the chunk took (at most
   :data:`YIELD_MAX`): a writer waiting on the lock (the inbound flow, an inbound worker process) gets in between
   two chunks instead of waiting out the whole backlog;
2. **check** -- objects whose check is due (touched, or a service-level window ending) are claimed with a lease
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and evaluated against the service levels declared in the partner
   files of their documents; stage, next check and new breaches (with an ``sla.breached`` event on the document
   the window started at) are written in one transaction. Objects of one run whose timelines are the same
   documents (a key shared by a burst: a carrier's PRO number on every ship notice joins every order to the
   same 500 messages) read and summarise those documents once per run, not once per object (:class:`_Runs`);
3. **announce** -- every breach not yet announced goes to the hand-off destinations routed for record type
   ``sla`` (event id ``sla-<breach id>``: once), to the notifier (kind ``sla_breach``, deduplicated per breach)
   and to ``gateway_sla_breaches_total``; then it is marked announced. A crash between the steps repeats the
   announcement, never the breach; the event id and the notifier's deduplication keep the repeat harmless.

Fail points: ``sla.after_record`` (breach written, not announced), ``sla.after_handoff`` (handed off, not marked).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway import metrics
from gateway.business.service_levels import evaluate
from gateway.business.stage import progress
from gateway.failpoints import FailPoints
from gateway.flows.business import Timelines, levels_for, unsettled
from gateway.logging import get_logger
from gateway.node import node_id
from gateway.store import business as rows
from gateway.store import business_index as index

log = get_logger(__name__)
LEASE = timedelta(seconds=60)
UNSETTLED_RECHECK = timedelta(seconds=5)  # a document still being processed may not be mapped yet
INDEX_BATCHES = 40  # per run, of 1,000 keys each
YIELD_MAX = 0.25  # seconds: the longest pause between two index chunks on SQLite
SAME_TIMELINES = 4  # distinct document sets of one run remembered (the objects of a shared key come together)


@dataclass(slots=True)
class _Timeline:
    """What one check reads from the store and the archive for a set of documents: the same for every object of
    the run whose timeline is that set (the stage and the partners' levels depend on the documents only)."""

    docs: list[Any]
    prog: Any
    levels: list[Any]
    unsettled: bool


class ServiceLevelJob:
    def __init__(self, *, timelines: Timelines, handoff: Any, notifier: Any, clock: Callable[[], datetime],
                 failpoints: FailPoints | None = None, ui_base: str | None = None) -> None:
        self.timelines = timelines
        self.store = timelines.store
        self.handoff = handoff
        self.notifier = notifier
        self.clock = clock
        self.failpoints = failpoints or FailPoints()
        self.owner = node_id()
        self.ui_base = ui_base
        # per run: document ids -> their timeline (read once for all the objects sharing it); cleared after the run
        self._same: OrderedDict[tuple[int, ...], _Timeline] = OrderedDict()

    def run(self) -> dict[str, int]:
        try:
            return self._run()
        finally:
            self._same.clear()  # the next run reads the documents again (their statuses move on)

    def _run(self) -> dict[str, int]:
        now = self.clock()
        indexed = 0
        seen: dict[int, dict[str, Any]] = {}  # primary keys of messages spanning chunks, found once per run
        sqlite = self.store.engine.dialect.name == "sqlite"
        longest = 0.0  # seconds: the longest index transaction (on SQLite, the longest hold of the write lock)
        for _ in range(INDEX_BATCHES):
            began = time.monotonic()
            n = index.index_new_keys(self.store.engine, now=now, seen=seen)
            took = time.monotonic() - began
            indexed += n
            if n == 0:
                break
            longest = max(longest, took)
            if sqlite:  # the write lock free at least half the time: see the module's docstring
                time.sleep(min(took, YIELD_MAX))
        checked = breached = 0
        for obj in rows.claim_due(self.store.engine, owner=self.owner, now=self.clock(), lease=LEASE):
            try:
                breached += self.check(obj)
                checked += 1
            except Exception:  # one object's defect must not stop the others; its lease expires, it is retried
                log.exception("sla.check_failed", extra={"fields": {"object_id": obj.id}})
        announced = self.announce()
        if indexed or breached or announced:
            log.info("sla.run", extra={"fields": {"indexed": indexed, "checked": checked, "breached": breached,
                                                  "announced": announced, "index_longest_ms": round(longest * 1000)}})
        return {"indexed": indexed, "checked": checked, "breached": breached, "announced": announced}

    def check(self, obj: Any) -> int:
        now = self.clock()
        with self.store.engine.connect() as conn:
            ids = rows.related_messages(conn, obj.kind, obj.norm)
            timeline = self._same.get(tuple(ids))
            if timeline is None:
                related = rows.load(conn, ids, keys=False)  # the keys of a large interchange are not needed
        if timeline is None:
            docs = self.timelines.docs(related, summary=True)  # the stage only: bounded memory
            timeline = _Timeline(docs, progress(docs), levels_for(self.timelines.partner_files(docs)), unsettled(docs))
            self._same[tuple(ids)] = timeline
            while len(self._same) > SAME_TIMELINES:
                self._same.popitem(last=False)
        docs, prog = timeline.docs, timeline.prog
        found, next_check = evaluate(timeline.levels, prog.milestones, now, object_kind=obj.kind)
        if timeline.unsettled:
            soon = now + UNSETTLED_RECHECK
            next_check = soon if next_check is None or soon < next_check else next_check
        new = []
        for b in found:
            anchor = next((d for d in docs if d.at == b.started_at and d.usable()), docs[0] if docs else None)
            if anchor is None:
                continue
            detail = {**b.to_dict(), "object": {"kind": obj.kind, "key": obj.key}}
            new.append(rows.NewBreach(anchor.message_id, b.level.partner_id, b.level.key, b.kind, b.due_at, detail))
        touch: list[str] = []
        if obj.kind == "shipment" and prog.stage != obj.stage:  # its order's stage follows
            with self.store.engine.connect() as conn:
                touch = rows.family_norms(conn, ids, "order")
        ids_new = rows.finish(self.store.engine, obj.id, owner=self.owner, now=now, stage=prog.stage,
                              next_check=next_check, breaches=new, touch=touch)
        if ids_new:
            log.warning("sla.breached", extra={"fields": {"object": f"{obj.kind}:{obj.key}", "breaches": len(ids_new)}})
            self.failpoints.hit("sla.after_record")
        return len(ids_new)

    def announce(self) -> int:
        done = 0
        for b in rows.unannounced(self.store.engine):
            detail = dict(b.detail or {})
            obj = detail.get("object") or {}
            try:
                self.handoff.announce_sla_breach(b.id, b.message_id, object_kind=obj.get("kind", "order"),
                                                 object_key=obj.get("key", ""), breach=detail)
            except Exception:
                log.exception("sla.handoff_failed", extra={"fields": {"breach_id": b.id}})
                continue  # retried next run
            self.failpoints.hit("sla.after_handoff")
            if not rows.mark_announced(self.store.engine, b.id, self.clock()):
                continue  # another node announced it meanwhile
            name = detail.get("service_level", b.level)
            what = f"{obj.get('kind', 'order')} {obj.get('key', '')}"
            link = f"/api/{'orders' if obj.get('kind') == 'order' else 'shipments'}/{obj.get('key', '')}"
            self.notifier.notify(
                "sla_breach", key=f"{b.object_id}:{b.level}",
                subject=f"Service level missed: {what} ({name})",
                text=f"{detail.get('reason') or name}\nPartner: {b.partner_id or '-'}\nTimeline: "
                     f"{(self.ui_base or '') + link}",
                fields={"partner": b.partner_id, "service_level": name, "object": what,
                        "message_id": b.message_id, "kind": b.kind})
            metrics.count_sla_breach(b.partner_id, str(name), b.kind)
            done += 1
        return done
