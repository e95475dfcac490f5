"""The hand-off outbox in the store: rows to deliver, claimed by a sweep, each step written in one transaction.

*Release* writes every event of a message (one row per destination, or one ``unrouted`` row when no route
matches), its timeline event and its hand-off status in one transaction, gated on ``handoff_status IS NULL`` so a
message is released once however often the flow or the recovery asks. *Claim* takes due rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease (owner, until): several nodes on PostgreSQL never take the same
row, and a node that dies loses its claim when the lease runs out. Rows go out in id order within a *lane*
(destination + partner): a lane is claimed only when its oldest open row is among the rows this claim locked, and
only the run of its open rows from there, so a later record never overtakes an earlier one, on one node or many.
*Complete* writes the outcomes of a batch (row states, timeline events, message statuses) in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from gateway.handoff.events import HandoffEvent
from gateway.store.bulk import insert_rows
from gateway.store.db import reader
from gateway.store.models import INBOUND, DeliveryState, Event, Handoff, HandoffStatus, Interchange, Message

H = Handoff.__table__  # type: ignore[attr-defined]
M = Message.__table__  # type: ignore[attr-defined]
E = Event.__table__  # type: ignore[attr-defined]
INSERT_HANDOFF = insert(H)  # built once: gateway.store.bulk plans a statement once (by its identity)
INSERT_TIMELINE = insert(E)
ISA = Interchange.__table__  # type: ignore[attr-defined]
OPEN = (DeliveryState.pending.value, DeliveryState.retrying.value)
UNROUTED = "(unrouted)"  # the destination of a record no route matches
RELEASE_CHUNK = 1000  # outbox rows per INSERT when a message is released

# the statements every batch of small files runs, built once with expanding parameters (one cached compiled
# form each): built per call, SQLAlchemy's construction and cache-key work cost more than the query on SQLite
_GATE = (update(M).where(M.c.id.in_(bindparam("ids", expanding=True)), M.c.handoff_status.is_(None))
         .values(handoff_status=HandoffStatus.pending.value).returning(M.c.id))
_EXISTING = select(H.c.id, H.c.event_id, H.c.destination, H.c.message_id).where(
    H.c.message_id.in_(bindparam("ids", expanding=True)))
_SAME_BYTES = select(M.c.id, M.c.partner_id, M.c.sha256, M.c.direction, M.c.handoff_status).where(
    M.c.sha256.in_(bindparam("shas", expanding=True)))
_ISA_COLUMNS = (ISA.c.message_id, ISA.c.sender_qualifier, ISA.c.sender_id, ISA.c.control_number)
_INTERCHANGES_OF = select(*_ISA_COLUMNS).where(ISA.c.message_id.in_(bindparam("ids", expanding=True)))
_SAME_INTERCHANGE = (select(M.c.id, M.c.partner_id, M.c.direction, M.c.handoff_status, *_ISA_COLUMNS[1:])
                     .join(ISA, ISA.c.message_id == M.c.id)
                     .where(ISA.c.control_number.in_(bindparam("controls", expanding=True))))


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    event_id: str
    destination: str
    lane: str
    message_id: int
    partner_id: str | None
    event_type: str
    record_type: str
    set_id: str | None
    attempts: int
    body: str


@dataclass(frozen=True, slots=True)
class Outcome:
    row: Claimed
    delivered: bool
    detail: dict[str, Any]
    error: str | None = None
    retry_at: datetime | None = None  # None with delivered=False: dead


def lane_of(destination: str, partner: str | None) -> str:
    return f"{destination}|{partner or ''}"


def derive_status(states: Iterable[str]) -> str:
    s = set(states)
    if not s:
        return HandoffStatus.skipped.value
    for state, status in (
        (DeliveryState.dead.value, HandoffStatus.dead),
        (DeliveryState.retrying.value, HandoffStatus.retrying),
        (DeliveryState.pending.value, HandoffStatus.pending),
        (DeliveryState.available.value, HandoffStatus.pending),
        ("unrouted", HandoffStatus.unrouted),
    ):
        if state in s:
            return status.value
    return HandoffStatus.delivered.value



def _released(direction: str | None, handoff_status: str | None) -> bool:
    """An inbound message whose records were released (a hand-off status other than ``skipped``)."""
    return direction == "inbound" and handoff_status is not None and handoff_status != HandoffStatus.skipped.value

class Outbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    # -- release ---------------------------------------------------------------------------------------------
    def release(
        self,
        message_id: int,
        routed: Iterable[tuple[HandoffEvent, Sequence[tuple[str, str]]]],
        *,
        now: datetime,
        replay: bool = False,
        gate: bool = True,
        actor: str = "gateway",
        extra_events: Sequence[tuple[int, str, dict[str, Any]]] = (),
    ) -> bool:
        """Write the message's events for their destinations ((name, type) pairs; none: unrouted), the timeline
        event and the status, in one transaction. With ``gate`` only a message never released is written (False
        otherwise); a ``replay`` puts every row of the message back to be delivered again, same event ids; with
        neither, rows already there are left as they are (adding an acknowledgement outcome twice is harmless).
        ``routed`` may be a generator: rows are inserted in chunks of :data:`RELEASE_CHUNK` as they come, so a
        large interchange's records are never all in memory (still one transaction)."""
        with self.engine.begin() as conn:
            if replay or not gate:
                conn.execute(update(M).where(M.c.id == message_id).values(handoff_status=HandoffStatus.pending.value))
            else:
                first = conn.execute(
                    update(M)
                    .where(M.c.id == message_id, M.c.handoff_status.is_(None))
                    .values(handoff_status=HandoffStatus.pending.value)
                )
                if first.rowcount != 1:
                    return False
            writer = _Writer(conn, now, actor)
            writer.existing_of([message_id])
            wrote = writer.message(message_id, routed, replay=replay)
            if not wrote and not replay and not gate:
                return False  # these events were added before
            writer.timeline += extra_events
            writer.close()
            self._refresh(conn, {message_id}, writer.known)
            return True

    def release_many(
        self,
        released: Sequence[tuple[int, Iterable[tuple[HandoffEvent, Sequence[tuple[str, str]]]]]],
        marked: Sequence[tuple[int, HandoffStatus, str, dict[str, Any]]],
        *,
        now: datetime,
    ) -> list[int]:
        """:meth:`release` (gated) of several messages, and :meth:`mark` of others, in ONE transaction (a batch of
        small files). Returns the ids released or marked (a message released before is left as it is)."""
        with self.engine.begin() as conn:
            ids = [m for m, _r in released] + [m for m, *_x in marked]
            if not ids:
                return []
            # one conditional UPDATE for all: the messages never released
            gated = set(conn.execute(_GATE, {"ids": ids}).scalars())
            writer = _Writer(conn, now, "gateway")
            writer.existing_of([m for m, _r in released if m in gated])
            for message_id, routed in released:
                if message_id in gated:
                    writer.message(message_id, routed, replay=False)
            by_status: dict[str, list[int]] = defaultdict(list)
            for message_id, status, event, detail in marked:
                if message_id in gated:
                    by_status[status.value].append(message_id)
                    writer.timeline.append((message_id, event, detail))
            writer.close()
            for status_value, mids in by_status.items():
                conn.execute(update(M).where(M.c.id.in_(mids)).values(handoff_status=status_value))
            self._refresh(conn, {m for m, _r in released if m in gated}, writer.known)
            return [m for m in ids if m in gated]

    def mark(self, message_id: int, status: HandoffStatus, event: str, detail: dict[str, Any], now: datetime) -> bool:
        """Set the status of a message that has nothing to hand off (gated like :meth:`release`)."""
        with self.engine.begin() as conn:
            gate = conn.execute(
                update(M).where(M.c.id == message_id, M.c.handoff_status.is_(None)).values(handoff_status=status.value)
            )
            if gate.rowcount != 1:
                return False
            conn.execute(insert(E), [{"message_id": message_id, "name": event, "detail": detail, "at": now,
                                      "actor": "gateway"}])
            return True

    # -- claim and complete --------------------------------------------------------------------------------------
    def claim(
        self, *, owner: str, now: datetime, lease: timedelta, destinations: Sequence[str], limit: int = 500
    ) -> dict[str, list[Claimed]]:
        """Due rows of ``destinations``, leased to ``owner``, grouped by lane in delivery order."""
        if not destinations:
            return {}
        with self.engine.begin() as conn:
            older = H.alias("older")
            blocked = (  # an older open row of the same lane that is not due or is leased: this lane waits
                select(older.c.id)
                .where(
                    older.c.lane == H.c.lane,
                    older.c.id < H.c.id,
                    older.c.status.in_(OPEN),
                    or_(older.c.due_at > now, older.c.lease_until >= now),
                )
                .exists()
            )
            q = (
                select(H.c.id, H.c.lane)
                .where(
                    H.c.status.in_(OPEN),
                    H.c.due_at <= now,
                    H.c.destination.in_(list(destinations)),
                    or_(H.c.lease_until.is_(None), H.c.lease_until < now),
                    ~blocked,
                )
                .order_by(H.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            locked: dict[str, list[int]] = defaultdict(list)
            for r in conn.execute(q):
                locked[r.lane].append(r.id)
            keep: list[int] = []
            for lane, ids in locked.items():
                mine = set(ids)
                open_ids = conn.execute(
                    select(H.c.id)
                    .where(H.c.lane == lane, H.c.status.in_(OPEN), H.c.id <= max(ids))
                    .order_by(H.c.id)
                ).scalars()
                for oid in open_ids:  # the run of open rows from the lane's head that this claim holds
                    if oid not in mine:
                        break
                    keep.append(oid)
            if not keep:
                return {}
            # conditional: on SQLite (no row locks) a concurrent claim may have leased some rows meanwhile
            free = or_(H.c.lease_until.is_(None), H.c.lease_until < now)
            conn.execute(
                update(H).where(H.c.id.in_(keep), free).values(lease_owner=owner, lease_until=now + lease)
            )
            got = conn.execute(
                select(H).where(H.c.id.in_(keep), H.c.lease_owner == owner, H.c.lease_until == now + lease)
                .order_by(H.c.id)
            ).all()
            wanted: dict[str, int] = defaultdict(int)
            have: dict[str, int] = defaultdict(int)
            lane_of_id = {i: lane for lane, ids in locked.items() for i in ids}
            for i in keep:
                wanted[lane_of_id[i]] += 1
            for r in got:
                have[r.lane] += 1
            partial = {lane for lane in wanted if have[lane] != wanted[lane]}
            if partial:  # a lane only partly ours could be delivered out of order: give it back whole
                back = [r.id for r in got if r.lane in partial]
                conn.execute(update(H).where(H.c.id.in_(back)).values(lease_owner=None, lease_until=None))
                got = [r for r in got if r.lane not in partial]
        lanes: dict[str, list[Claimed]] = defaultdict(list)
        for r in got:
            lanes[r.lane].append(
                Claimed(r.id, r.event_id, r.destination, r.lane, r.message_id, r.partner_id, r.event_type,
                        r.record_type, r.set_id, r.attempts, r.body)
            )
        return dict(lanes)

    def complete(self, outcomes: Sequence[Outcome], *, release: Sequence[int] = (), now: datetime,
                 owner: str) -> None:
        """Record a batch's outcomes (rows, timeline, message statuses) and drop leases left unused, together."""
        if not outcomes and not release:
            return
        with self.engine.begin() as conn:
            events = []
            for o in outcomes:
                attempt = o.row.attempts + 1
                base = {"event_id": o.row.event_id, "destination": o.row.destination, "attempt": attempt}
                mine = and_(H.c.id == o.row.id, H.c.lease_owner == owner)
                if o.delivered:
                    values: dict[str, Any] = {"status": DeliveryState.delivered.value, "delivered_at": now,
                                              "last_error": None}
                    events.append((o.row.message_id, "handoff.delivered", {**base, **o.detail}))
                elif o.retry_at is not None:
                    values = {"status": DeliveryState.retrying.value, "due_at": o.retry_at, "last_error": o.error}
                    events.append((o.row.message_id, "handoff.retry_scheduled",
                                   {**base, "error": o.error, "retry_at": o.retry_at.isoformat()}))
                else:
                    values = {"status": DeliveryState.dead.value, "last_error": o.error}
                    events.append((o.row.message_id, "handoff.dead", {**base, "error": o.error}))
                conn.execute(update(H).where(mine).values(attempts=attempt, lease_owner=None, lease_until=None,
                                                          **values))
            if release:
                conn.execute(
                    update(H).where(H.c.id.in_(list(release)), H.c.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None)
                )
            if events:
                conn.execute(insert(E), [
                    {"message_id": m, "name": n, "detail": d, "at": now, "actor": "gateway"} for m, n, d in events
                ])
            self._refresh(conn, {o.row.message_id for o in outcomes})

    def renew(self, ids: Sequence[int], *, owner: str, until: datetime) -> None:
        """Extend this owner's lease on rows it is still working on."""
        if ids:
            with self.engine.begin() as conn:
                conn.execute(update(H).where(H.c.id.in_(list(ids)), H.c.lease_owner == owner)
                             .values(lease_until=until))

    def drop_stale_leases(self, *, live: Sequence[str]) -> int:
        """At start: free the leases of nodes that are not running (``live``: the other nodes whose heartbeat is
        current, see :mod:`gateway.store.nodes`), at once instead of when they run out. A live node's leases are
        its work in progress and are never touched; this node's own are its previous run's (a stable
        GATEWAY_NODE_ID), so they are freed too."""
        with self.engine.begin() as conn:
            q = update(H).where(H.c.lease_owner.is_not(None))
            if live:
                q = q.where(H.c.lease_owner.not_in(list(live)))
            res = conn.execute(q.values(lease_owner=None, lease_until=None))
            return int(res.rowcount or 0)

    def _refresh(self, conn: Connection, message_ids: set[int], released: dict[int, str] | None = None) -> None:
        """Set the messages' hand-off status from their rows' states. ``released``: the statuses of messages a
        release has just written every row of (:attr:`_Writer.known`): not read back, and not written when the
        release's gate already set them (``pending``, what nearly every release ends with)."""
        if not message_ids:
            return
        released = released or {}
        ask = [m for m in message_ids if m not in released]
        states: dict[int, list[str]] = defaultdict(list)
        if ask:
            q = select(H.c.message_id, H.c.status).where(H.c.message_id.in_(ask)).distinct()
            for r in conn.execute(q):  # distinct: a large message's thousands of rows share a few states
                states[r.message_id].append(r.status)
        by_status: dict[str, list[int]] = defaultdict(list)
        for mid in message_ids:
            if mid in released:
                if released[mid] != HandoffStatus.pending.value:
                    by_status[released[mid]].append(mid)
                continue
            by_status[derive_status(states.get(mid, []))].append(mid)
        for status, ids in by_status.items():
            conn.execute(update(M).where(M.c.id.in_(ids)).values(handoff_status=status))

    # -- pull inbox ----------------------------------------------------------------------------------------------
    def inbox(self, destination: str, *, after: int, limit: int) -> list[Any]:
        with self.engine.connect() as conn:
            q = (
                select(H.c.id, H.c.event_id, H.c.body)
                .where(H.c.destination == destination, H.c.status == DeliveryState.available.value, H.c.id > after)
                .order_by(H.c.id)
                .limit(limit)
            )
            return list(conn.execute(q).all())

    def confirm(self, destination: str, event_ids: Sequence[str], *, now: datetime, actor: str) -> list[str]:
        """Mark pulled events as received; returns the ids that were waiting (others were unknown or done)."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(H.c.id, H.c.event_id, H.c.message_id, H.c.attempts).where(
                    H.c.destination == destination,
                    H.c.status == DeliveryState.available.value,
                    H.c.event_id.in_(list(event_ids)),
                )
            ).all()
            if not rows:
                return []
            conn.execute(
                update(H).where(H.c.id.in_([r.id for r in rows]))
                .values(status=DeliveryState.delivered.value, delivered_at=now, attempts=H.c.attempts + 1)
            )
            conn.execute(insert(E), [
                {"message_id": r.message_id, "name": "handoff.confirmed", "actor": actor, "at": now,
                 "detail": {"event_id": r.event_id, "destination": destination}}
                for r in rows
            ])
            self._refresh(conn, {r.message_id for r in rows})
            return [r.event_id for r in rows]

    # -- queries ------------------------------------------------------------------------------------------------
    def of_message(self, message_id: int) -> list[Any]:
        with self.engine.connect() as conn:
            q = (
                select(H.c.event_id, H.c.destination, H.c.event_type, H.c.status, H.c.attempts, H.c.due_at,
                       H.c.delivered_at, H.c.last_error)
                .where(H.c.message_id == message_id)
                .order_by(H.c.id)
            )
            return list(conn.execute(q).all())

    def rows_of(self, message_id: int) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(H).where(H.c.message_id == message_id).order_by(H.c.id)).all())

    def duplicates_of(self, messages: Sequence[tuple[int, str | None, str | None]]) -> dict[int, int]:
        """Earlier inbound messages of the same partner already released with the same bytes, or the same
        interchange (ISA sender and control number): their records left once and must not leave again. For a
        batch ((id, partner id, sha256) each), in three queries: message id -> the earlier one released. A message
        of the batch also counts as released for those after it (they are released together, in this order)."""
        if not messages:
            return {}
        ids = [m for m, _p, _s in messages]
        # "released" (inbound, hand-off status set and not skipped) is tested here, not in SQL: given it, SQLite's
        # planner (no statistics) walked every inbound message through the direction index instead of looking the
        # few hashes and control numbers up in theirs, a cost growing with the table for every batch
        with reader(self.engine) as conn:
            shas = sorted({s for _m, _p, s in messages if s})
            by_bytes: dict[tuple[str | None, str | None], list[int]] = defaultdict(list)
            for r in conn.execute(_SAME_BYTES, {"shas": shas}) if shas else ():
                if _released(r.direction, r.handoff_status):
                    by_bytes[(r.partner_id, r.sha256)].append(r.id)
            mine: dict[int, list[tuple[Any, Any, Any]]] = defaultdict(list)
            for r in conn.execute(_INTERCHANGES_OF, {"ids": ids}):
                mine[r.message_id].append((r.sender_qualifier, r.sender_id, r.control_number))
            controls = sorted({c for ics in mine.values() for _q, _s, c in ics if c is not None})
            by_ic: dict[tuple[Any, Any, Any, Any], list[int]] = defaultdict(list)
            if controls:
                for row in conn.execute(_SAME_INTERCHANGE, {"controls": controls}):
                    if _released(row.direction, row.handoff_status):
                        by_ic[(row.partner_id, row.sender_qualifier, row.sender_id, row.control_number)].append(row.id)
        out: dict[int, int] = {}
        for mid, partner_id, sha256 in messages:
            same = [o for o in by_bytes.get((partner_id, sha256), ()) if o != mid]
            if not same:
                same = [o for q, s, c in mine.get(mid, ()) for o in by_ic.get((partner_id, q, s, c), ()) if o != mid]
            if same:
                out[mid] = int(same[0])
                continue
            by_bytes[(partner_id, sha256)].append(mid)  # released with this batch: counts for those after it
            for q, s, c in mine.get(mid, ()):
                by_ic[(partner_id, q, s, c)].append(mid)
        return out

    def unreleased(self, *, before: datetime, limit: int = 200) -> list[int]:
        """Accepted inbound messages never released (a crash between mapping and release), oldest first. Read
        through ``ix_message_unreleased`` (the inbound messages never released: the work, not the archive)."""
        with self.engine.connect() as conn:
            q = (
                select(M.c.id)
                .where(
                    M.c.direction == INBOUND,
                    M.c.status.in_(["acked", "processed"]),
                    M.c.handoff_status.is_(None),
                    M.c.updated_at < before,
                )
                .order_by(M.c.id)
                .limit(limit)
            )
            return list(conn.execute(q).scalars())

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(select(H.c.status, func.count()).group_by(H.c.status))}


class _Writer:
    """The rows of a release on an open transaction: outbox rows in chunks, reset rows, timeline events.

    ``known``: the hand-off status (:func:`derive_status`) of each message written that had no row before
    (:meth:`existing_of`): every row it has now was written here, in states known here, so its status is too;
    the status of any other message is read from its rows."""

    def __init__(self, conn: Connection, now: datetime, actor: str) -> None:
        self.conn = conn
        self.now = now
        self.actor = actor
        self.existing: dict[tuple[str, str], int] = {}
        self.had_rows: set[int] = set()
        self.known: dict[int, str] = {}
        self.rows: list[dict[str, Any]] = []
        self.timeline: list[tuple[int, str, dict[str, Any]]] = []

    def existing_of(self, message_ids: Sequence[int]) -> None:
        """Read the rows the messages have (call it for every message before :meth:`message`)."""
        if message_ids:
            for r in self.conn.execute(_EXISTING, {"ids": list(message_ids)}):
                self.existing[(r.event_id, r.destination)] = r.id
                self.had_rows.add(r.message_id)

    def _flush(self) -> None:
        if self.rows:
            insert_rows(self.conn, INSERT_HANDOFF, self.rows)  # PostgreSQL: one statement, not a round trip per row
            self.rows = []

    def message(self, message_id: int, routed: Iterable[tuple[HandoffEvent, Sequence[tuple[str, str]]]], *,
                replay: bool) -> bool:
        """Rows of one message's events, its ``handoff.released``/``replayed`` event (and ``handoff.unrouted``).
        True when anything was written or reset."""
        conn, now, existing = self.conn, self.now, self.existing
        reset: list[tuple[int, str]] = []
        states: set[str] = set()
        destinations: set[str] = set()
        unrouted_n = records = 0
        inserted = False
        for event, targets in routed:
            records += 1
            body = None
            if len(self.rows) >= RELEASE_CHUNK:
                self._flush()
            pairs = list(targets) or [(UNROUTED, "unrouted")]
            if targets:
                # a record routed now no longer waits as unrouted
                stale = existing.get((event.event_id, UNROUTED))
                if stale is not None:
                    conn.execute(H.delete().where(H.c.id == stale))
            else:
                unrouted_n += 1
            for name, kind in pairs:
                destinations.add(name)
                state = (
                    "unrouted" if name == UNROUTED
                    else DeliveryState.available.value if kind == "pull"
                    else DeliveryState.pending.value
                )
                row_id = existing.get((event.event_id, name))
                if row_id is not None:
                    if replay:
                        reset.append((row_id, state))
                    continue
                inserted = True
                states.add(state)
                if body is None:
                    body = event.to_text()  # once per event, whatever the number of its destinations
                self.rows.append(
                    {
                        "event_id": event.event_id,
                        "destination": name,
                        "lane": lane_of(name, event.partner),
                        "message_id": event.message_id,
                        "position": event.position,
                        "partner_id": event.partner,
                        "event_type": event.type,
                        "record_type": event.record_type,
                        "set_id": event.set_id,
                        "status": state,
                        "attempts": 0,
                        "due_at": now,
                        "body": body,
                        "created_at": now,
                    }
                )
        for row_id, state in reset:
            conn.execute(
                update(H)
                .where(H.c.id == row_id)
                .values(status=state, attempts=0, due_at=now, lease_owner=None, lease_until=None,
                        last_error=None, delivered_at=None)
            )
        detail = {
            "records": records,
            "destinations": sorted(d for d in destinations if d != UNROUTED),
            "unrouted": unrouted_n,
        }
        if message_id not in self.had_rows:
            self.known[message_id] = derive_status(states)
        self.timeline.append((message_id, "handoff.replayed" if replay else "handoff.released", detail))
        if unrouted_n:
            self.timeline.append((message_id, "handoff.unrouted", {
                "records": unrouted_n,
                "reason": "no route in the hand-off file matches these records; add one, then replay",
            }))
        return inserted or bool(reset)

    def close(self) -> None:
        """Write what is left: the last outbox rows, then every timeline event (one INSERT)."""
        self._flush()
        if self.timeline:
            insert_rows(self.conn, INSERT_TIMELINE, [
                {"message_id": m, "name": n, "actor": self.actor, "detail": d, "at": self.now}
                for m, n, d in self.timeline
            ])
