"""Hand-off: records partners sent, and the outcomes of what we sent them, leave for internal systems.

Joins the layers for ``gateway/handoff/``: the inbound flow calls :meth:`HandoffFlow.release` once a message is
archived, validated, acknowledged (our 997/999) and mapped; the acknowledgement flow calls
:meth:`HandoffFlow.announce_ack_outcome`; the scheduler runs :meth:`HandoffFlow.sweep` (deliveries) and
:meth:`HandoffFlow.reconcile` (messages a crash left unreleased); the API calls :meth:`HandoffFlow.replay` and
the pull inbox. Deliveries never run in the caller's thread: release only writes outbox rows (one transaction),
and the sweep delivers them.

Fail points for crash tests: ``handoff.before_release`` (mapped, not released), ``handoff.after_release``
(rows written, nothing delivered), ``handoff.after_publish`` (an event published, its outcome not recorded).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway import metrics
from gateway.canonical import parse_record
from gateway.canonical.jsonio import iter_documents
from gateway.canonical.keys import business_keys
from gateway.errors import (
    GatewayError,
    InvalidActionError,
    PermanentTransportError,
    TransientTransportError,
    TransportError,
)
from gateway.failpoints import FailPoints
from gateway.flows.mapping_step import Mapped
from gateway.handoff.config import HandoffConfig, parse_handoff_file
from gateway.handoff.destinations import Destination, OutgoingEvent, open_destination
from gateway.handoff.events import (
    HandoffEvent,
    ack_outcome_event,
    iter_kept_record_events,
    iter_record_events,
    sla_breach_event,
)
from gateway.handoff.outbox import Claimed, H, Outbox, Outcome
from gateway.logging import get_logger, log_context
from gateway.node import node_id
from gateway.store.archive import Archive
from gateway.store.leases import MessageLeases
from gateway.store.models import Direction, HandoffStatus, Message, OutputKind
from gateway.store.repository import Store

log = get_logger(__name__)

SWEEP_BUDGET_SECONDS = 5.0  # one sweep delivers what is due for at most this long, then yields its thread
RECONCILE_AFTER = timedelta(minutes=2)  # an accepted message still unreleased after this was left by a crash
LEASE = timedelta(seconds=30)  # a claim's lease; renewed while a lane is being delivered
NOTHING = {"reason": "no record was mapped from this message"}
NOT_DOCUMENTS = ("ack", "sla")  # record types about our own messages or breaches: no partner document's lag




class HandoffFlow:
    def __init__(
        self,
        *,
        store: Store,
        archive: Archive,
        config_file: Path,
        data_dir: Path,
        secrets_dir: Path | None,
        clock: Callable[[], datetime],
        failpoints: FailPoints | None = None,
        remap: Callable[[Message], None] | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.outbox = Outbox(store.engine)
        self.config_file = config_file
        self.data_dir = data_dir
        self.secrets_dir = secrets_dir
        self.clock = clock
        self.failpoints = failpoints or FailPoints()
        self.remap = remap  # maps a message the crash caught before its mapping (set by the runtime)
        self.busy: Callable[[int], bool] = lambda _mid: False  # a message this process is working on (runtime)
        self.owner = node_id()
        self.leases = MessageLeases(store.engine)  # the inbound messages' leases (the runtime shares its own)
        self.wake: Callable[[], None] = lambda: None  # the runtime points this at the sweep job
        self._config = HandoffConfig()
        self._config_stamp: tuple[float, int] | None = None
        self._publishers: dict[str, tuple[Any, Destination]] = {}
        self._lock = threading.Lock()
        self.reload()

    # -- configuration ----------------------------------------------------------------------------------------
    def reload(self) -> bool:
        """Read the hand-off file again if it changed; a bad edit is logged and the last good version kept."""
        try:
            st = self.config_file.stat()
            stamp: tuple[float, int] | None = (st.st_mtime, st.st_size)
        except OSError:
            stamp = None
        if stamp == self._config_stamp and self._config_stamp is not None:
            return False
        if stamp is not None and stamp[1] == 0:
            return False  # being rewritten in place (truncated, not yet written): read it on the next sweep
        loaded = parse_handoff_file(self.config_file)
        try:
            after = self.config_file.stat()
            if stamp is not None and (after.st_mtime, after.st_size) != stamp:
                return False  # changed while it was read: what was parsed may be half a file; read it again later
        except OSError:
            pass
        self._config_stamp = stamp
        if loaded.problems:
            for p in loaded.problems:
                log.error("handoff.config_invalid", extra={"fields": {"problem": p.render()}})
            return False
        with self._lock:
            self._config = loaded.config
        log.info("handoff.config_loaded", extra={"fields": {
            "destinations": [d.name for d in loaded.config.destinations], "routes": len(loaded.config.routes)}})
        return True

    @property
    def config(self) -> HandoffConfig:
        return self._config

    def _route(self, event: HandoffEvent) -> list[tuple[str, str]]:
        cfg = self._config
        return [(n, cfg.destination(n).type) for n in cfg.route(event.partner, event.record_type, event.set_id)]

    # -- release (called by the inbound flow) -------------------------------------------------------------------
    def release(self, msg: Message) -> None:
        """Hand off the records of an accepted, mapped inbound message (a batch of one, :meth:`release_many`).
        Never raises: a failure leaves the message unreleased, and :meth:`reconcile` releases it later."""
        self.release_many([msg])

    def release_many(self, msgs: Sequence[Message], mapped: Mapping[int, Mapped] | None = None) -> None:
        """:meth:`release` for a batch of mapped messages: one query for their canonical outputs, two for earlier
        releases of the same interchanges, ONE transaction writing every message's rows and events. Never raises:
        a failure leaves the messages unreleased, and :meth:`reconcile` releases them later.

        ``mapped``: what the mapping step kept of messages it has just mapped and recorded (message id ->
        :data:`~gateway.flows.mapping_step.Mapped`); their events are built from it, the same events as from
        their archived output, without reading it back."""
        try:
            self.failpoints.hit("handoff.before_release")
            self._release_many(msgs, mapped or {})
            self.failpoints.hit("handoff.after_release")
        except GatewayError as exc:
            log.error("handoff.release_failed", extra={"fields": {"message_ids": [m.id for m in msgs],
                                                                  "error": exc.describe()}})
        except Exception:  # a defect must not stop the inbound flow; reconcile retries it
            log.exception("handoff.release_crashed", extra={"fields": {"message_ids": [m.id for m in msgs]}})

    def _release_many(self, msgs: Sequence[Message], mapped: Mapping[int, Mapped]) -> None:
        kept = {m.id: mapped[m.id] for m in msgs
                if m.id is not None and m.id in mapped and m.document_format not in ("csv", "xml")}
        ids = [m.id for m in msgs if m.id is not None and m.id not in kept]
        canonical = self.store.canonical_outputs(ids) if ids else {}
        earlier = self.outbox.duplicates_of([(m.id, m.partner_id, m.sha256) for m in msgs if m.id is not None])
        sources: list[Generator[HandoffEvent, None, None]] = []
        released = []
        marked: list[tuple[int, HandoffStatus, str, dict[str, Any]]] = []
        now = self.clock()
        try:
            for m in msgs:
                assert m.id is not None
                if m.id in earlier:
                    log.warning("handoff.duplicate", extra={"fields": {"message_id": m.id, "of": earlier[m.id]}})
                    marked.append((m.id, HandoffStatus.skipped, "handoff.duplicate", _duplicate(earlier[m.id])))
                    continue
                key = canonical.get(m.id)
                if m.id in kept:
                    source: Generator[HandoffEvent, None, None] | None = self._events_kept(m, kept[m.id])
                else:
                    source = self._events_of(m, key) if key is not None else None
                first = next(source, None) if source is not None else None
                if source is None or first is None:
                    marked.append((m.id, HandoffStatus.skipped, "handoff.nothing", NOTHING))
                    continue
                sources.append(source)
                released.append((m.id, ((e, self._route(e)) for e in chain([first], source))))
            done = self.outbox.release_many(released, marked, now=now)
        finally:
            for source in sources:
                source.close()
        if any(mid in done for mid, _r in released):
            log.info("handoff.released", extra={"fields": {"messages": [m for m, _r in released if m in done]}})
            self.wake()

    def _events_of(self, msg: Message, key: str | None = None) -> Generator[HandoffEvent, None, None]:
        """The message's record events from its canonical output (``key``, else looked up; none: nothing was
        mapped), read one record at a time: a large interchange's records are never all in memory."""
        assert msg.id is not None
        if key is None:
            outputs = self.store.outputs(msg.id, OutputKind.canonical.value)
            if not outputs:
                return
            key = outputs[-1].archive_key
        with self.archive.open(key) as fp:
            documents: Iterable[dict[str, Any]] = iter_documents(fp)
            set_ids = (msg.set_ids or "").split(",") if msg.set_ids else []
            if msg.document_format in ("csv", "xml"):  # one file document: a handful of records
                documents = list(documents)
                set_ids = [msg.document_format] * len(documents)
            yield from iter_record_events(
                message_id=msg.id,
                partner=msg.partner_id,
                documents=documents,
                set_ids=set_ids,
                keys_of=_keys_of,
                occurred_at=self.clock(),
            )

    def _events_kept(self, msg: Message, entries: Mapped) -> Generator[HandoffEvent, None, None]:
        """:meth:`_events_of` from what the mapping step kept (the same documents, keys known when it knew them)."""
        assert msg.id is not None
        yield from iter_kept_record_events(
            message_id=msg.id,
            partner=msg.partner_id,
            entries=entries,
            set_ids=(msg.set_ids or "").split(",") if msg.set_ids else [],
            keys_of=_keys_of,
            occurred_at=self.clock(),
        )

    def _release(self, msg: Message, *, replay: bool, actor: str) -> bool:
        assert msg.id is not None
        source = self._events_of(msg)
        events: Iterator[HandoffEvent] = source
        try:
            first = next(source, None)
            if first is None:
                stored = self._stored_events(msg.id) if replay else []
                if not stored:
                    if replay:
                        raise InvalidActionError(f"message {msg.id} has no record to hand off",
                                                 hint="only a mapped message (or an acknowledgement outcome) is "
                                                      "handed off")
                    return self.outbox.mark(msg.id, HandoffStatus.skipped, "handoff.nothing", NOTHING, self.clock())
                events = iter(stored)
            else:
                events = chain([first], source)
            routed = ((e, self._route(e)) for e in events)  # streamed into the outbox in bounded chunks
            done = self.outbox.release(msg.id, routed, now=self.clock(), replay=replay, actor=actor)
        finally:
            source.close()  # the archived file, when the outbox stopped early (released before)
        if done:
            log.info("handoff.released", extra={"fields": {"message_id": msg.id, "replay": replay}})
            self.wake()
        return done

    def _stored_events(self, message_id: int) -> list[HandoffEvent]:
        seen: dict[str, HandoffEvent] = {}
        for row in self.outbox.rows_of(message_id):
            body = json.loads(row.body)
            seen.setdefault(row.event_id, HandoffEvent(row.event_id, row.event_type, row.partner_id, message_id,
                                                       row.position, row.record_type, row.set_id, body))
        return list(seen.values())

    def replay(self, message_id: int, *, actor: str) -> Message:
        """Deliver the message's events again, to the destinations its routes name now (same event ids)."""
        msg = self.store.get(message_id)
        if msg.direction == Direction.inbound and msg.status not in ("acked", "processed"):
            raise InvalidActionError(
                f"message {message_id} is {msg.status}: only an accepted message is handed off",
                hint="reprocess it first if it was fixed",
            )
        self._release(msg, replay=True, actor=actor)
        return self.store.get(message_id)

    def confirm(self, destination: str, event_ids: list[str], *, actor: str) -> list[str]:
        """A pull client confirmed events it read: they are delivered (the ids that were waiting are returned)."""
        now = self.clock()
        done = self.outbox.confirm(destination, event_ids, now=now, actor=actor)
        rows = [r for r in self._rows_of_events(destination, done) if r.record_type not in NOT_DOCUMENTS]
        metrics.observe_handoffs(self.store.engine, [r.message_id for r in rows], now)
        return done

    def _rows_of_events(self, destination: str, event_ids: list[str]) -> list[Any]:
        if not event_ids:
            return []
        q = select(H.c.message_id, H.c.record_type).where(H.c.destination == destination, H.c.event_id.in_(event_ids))
        with self.store.engine.connect() as conn:
            return list(conn.execute(q).all())

    # -- acknowledgement outcomes (called by the acknowledgement flow) ----------------------------------------
    def announce_ack_outcome(
        self,
        message_id: int,
        outcome: str,
        *,
        reasons: list[str] | tuple[str, ...] = (),
        ack_message_id: int | None = None,
    ) -> bool:
        """Tell internal systems how the partner answered a document we sent (``message_id``, outbound):
        ``accepted``, ``accepted_with_errors``, ``partially_accepted``, ``rejected`` (with ``reasons``, one line
        each) or ``overdue``. Writes the event for every destination routed for record type ``ack`` in one
        transaction; calling it again for the same outcome adds nothing (event id ``<message id>-ack-<outcome>``).
        Returns whether anything was written."""
        msg = self.store.get(message_id)
        keys = [(k.kind, k.value) for k in self.store.business_keys(message_id) if k.kind != "file"]
        event = ack_outcome_event(
            message_id=message_id,
            partner=msg.partner_id,
            outcome=outcome,
            set_ids=(msg.set_ids or "").split(","),
            reasons=reasons,
            business_keys=keys,
            ack_message_id=ack_message_id,
            occurred_at=self.clock(),
        )
        done = self.outbox.release(message_id, [(event, self._route(event))], now=self.clock(), gate=False)
        if done:
            self.wake()
        return done

    # -- service-level breaches (called by the service-level job) -----------------------------------------------
    def announce_sla_breach(self, breach_id: int, message_id: int, *, object_kind: str, object_key: str,
                            breach: dict[str, Any]) -> bool:
        """Tell internal systems an order or shipment missed a service level (event ``sla.breached``, record type
        ``sla``), for every destination routed for it, in one transaction; the same breach twice adds nothing
        (event id ``sla-<breach id>``). Returns whether anything was written."""
        msg = self.store.get(message_id)
        keys = [(k.kind, k.value) for k in self.store.business_keys(message_id) if k.kind != "file"]
        event = sla_breach_event(
            breach_id=breach_id, message_id=message_id, partner=msg.partner_id, object_kind=object_kind,
            object_key=object_key, breach=breach, set_ids=(msg.set_ids or "").split(","), business_keys=keys,
            occurred_at=self.clock(),
        )
        done = self.outbox.release(message_id, [(event, self._route(event))], now=self.clock(), gate=False)
        if done:
            self.wake()
        return done

    # -- recovery -------------------------------------------------------------------------------------------
    def recover(self, *, live: Sequence[str] = ()) -> None:
        """At start: free leases of nodes not running (``live``: the other nodes with a current heartbeat), then
        release what a crash left unreleased."""
        freed = self.outbox.drop_stale_leases(live=live)
        if freed:
            log.info("handoff.leases_freed", extra={"fields": {"rows": freed}})
        self.reconcile(everything=True)

    def reconcile(self, *, everything: bool = False) -> list[int]:
        """Release accepted messages a crash left unreleased (at start: all of them; later: those idle a while).
        A message whose mapping never ran (the crash came first) is mapped now."""
        before = self.clock() + timedelta(days=1) if everything else self.clock() - RECONCILE_AFTER
        done = []
        for mid in self.outbox.unreleased(before=before):
            if self.busy(mid):
                continue  # still being mapped or released by this process (a large file): not left by a crash
            with self.leases.working(mid) as mine:
                if not mine:
                    continue  # the node that accepted it is mapping and releasing it now
                msg = self.store.get(mid)
                if msg.handoff_status is not None:
                    continue  # released meanwhile
                with log_context(message_id=mid, partner_id=msg.partner_id):
                    names = {e.name for e in self.store.events(mid)}
                    if not (names & {"mapping.done", "mapping.failed"}) and self.remap is not None:
                        log.info("handoff.remapping")
                        self.remap(msg)
                    self.release(self.store.get(mid))
                    done.append(mid)
        if done:
            log.info("handoff.reconciled", extra={"fields": {"messages": len(done)}})
        return done

    # -- delivery (the sweep) ----------------------------------------------------------------------------------
    def _publisher(self, name: str) -> Destination | None:
        cfg = self._config.destination(name)
        if cfg is None or cfg.type == "pull":
            return None
        cached = self._publishers.get(name)
        if cached is not None and cached[0] == cfg:
            return cached[1]
        if cached is not None:
            cached[1].close()
        pub = open_destination(cfg, data_dir=self.data_dir, secrets_dir=self.secrets_dir)
        self._publishers[name] = (cfg, pub)
        return pub

    def sweep(self) -> int:
        """Deliver what is due (a scheduler job; one at a time per process). Returns the events delivered."""
        self.reload()
        pushed = [d.name for d in self._config.destinations if d.type != "pull"]
        delivered = 0
        deadline = time.monotonic() + SWEEP_BUDGET_SECONDS
        while time.monotonic() < deadline:
            lanes = self.outbox.claim(owner=self.owner, now=self.clock(), lease=LEASE, destinations=pushed)
            if not lanes:
                break
            for rows in lanes.values():
                delivered += self._deliver_lane(rows)
        return delivered

    def _deliver_lane(self, rows: list[Claimed]) -> int:
        name = rows[0].destination
        cfg = self._config.destination(name)
        pub = self._publisher(name)
        outcomes: list[Outcome] = []
        if cfg is None or pub is None:  # the destination was removed from the file: leave the rows waiting
            self.outbox.complete([], release=[r.id for r in rows], now=self.clock(), owner=self.owner)
            return 0
        batch = rows[: cfg.batch]
        untouched = [r.id for r in rows[cfg.batch:]]
        renewed = time.monotonic()
        for i, row in enumerate(batch):
            if time.monotonic() - renewed > LEASE.total_seconds() / 3:  # a slow destination: keep the claim
                self.outbox.renew([r.id for r in batch[i:]], owner=self.owner, until=self.clock() + LEASE)
                renewed = time.monotonic()
            event = OutgoingEvent(row.event_id, row.event_type, row.partner_id, row.record_type, row.set_id,
                                  row.body.encode())
            try:
                receipt = pub.publish(event)
            except TransportError as exc:
                outcomes.append(self._failed(row, exc, cfg.retry))
                untouched += [r.id for r in batch[i + 1:]]  # later records wait: order per partner holds
                break
            except GatewayError as exc:  # e.g. a secret not set yet: retried by the policy, fixed without a replay
                outcomes.append(self._failed(row, TransientTransportError(exc.describe()), cfg.retry))
                untouched += [r.id for r in batch[i + 1:]]
                break
            except Exception as exc:  # a defect in a publisher: the record is parked, not lost
                log.exception("handoff.publisher_crashed")
                outcomes.append(Outcome(row, False, {}, f"internal error: {type(exc).__name__}: {exc}", None))
                untouched += [r.id for r in batch[i + 1:]]
                break
            outcomes.append(Outcome(row, True, receipt.detail))
            self.failpoints.hit("handoff.after_publish")
        self.outbox.complete(outcomes, release=untouched, now=self.clock(), owner=self.owner)
        metrics.observe_handoffs(self.store.engine, [o.row.message_id for o in outcomes
                                                     if o.delivered and o.row.record_type not in NOT_DOCUMENTS],
                                 self.clock())
        ok = sum(1 for o in outcomes if o.delivered)
        log.info("handoff.delivered", extra={"fields": {"destination": name, "delivered": ok,
                                                         "failed": len(outcomes) - ok}})
        return ok

    def _failed(self, row: Claimed, exc: TransportError, retry: Any) -> Outcome:
        error = exc.describe()
        attempt = row.attempts + 1
        if isinstance(exc, PermanentTransportError) or attempt >= retry.attempts:
            log.error("handoff.dead", extra={"fields": {"event_id": row.event_id, "destination": row.destination,
                                                        "attempts": attempt, "error": error}})
            return Outcome(row, False, {}, error, None)
        due = self.clock() + timedelta(seconds=retry.delay(attempt))
        log.warning("handoff.retry_scheduled", extra={"fields": {"event_id": row.event_id,
                                                                 "destination": row.destination, "error": error}})
        return Outcome(row, False, {}, error, due)

    def close(self) -> None:
        for _cfg, pub in self._publishers.values():
            pub.close()
        self._publishers.clear()


def _keys_of(doc: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        return business_keys(parse_record(doc))
    except Exception:  # a record that does not parse back has no keys to show; it is still handed off
        return []


def _duplicate(earlier: int) -> dict[str, Any]:
    return {"of": earlier, "reason": f"message {earlier} with the same interchange was handed off already; "
                                     "replay this message to hand it off anyway"}
