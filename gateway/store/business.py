"""Store side of business objects (orders, shipments): the join over normalised business keys, the objects'
claims, and service-level breaches.

The join (:func:`related_messages`) runs on ``business_key.norm`` (indexed, ``ix_business_key_norm``, on both
backends): the messages carrying the key in its family (an order: ``order``/``po``; a shipment: ``shipment``/
``bol``/``pro``/``tracking``/``sscc``), widened once within the family (a 940 names order and PO, an 856 only the
PO) and once across (an order's 945 names its shipment, whose 214s name only the shipment and the PRO).

The index of objects is :mod:`gateway.store.business_index` (the service-level job's). The job claims due
objects with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a guarded UPDATE on both) and writes an evaluation
-- stage, next check, breaches, their timeline events -- in one transaction (:func:`finish`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.business.keys import OBJECT_KINDS
from gateway.store.models import (
    AckLink,
    BusinessKey,
    BusinessObject,
    ControlCounter,
    Event,
    Handoff,
    Message,
    Output,
    OutputKind,
    SlaBreach,
)

BK = BusinessKey.__table__  # type: ignore[attr-defined]
BO = BusinessObject.__table__  # type: ignore[attr-defined]
SB = SlaBreach.__table__  # type: ignore[attr-defined]
M = Message.__table__  # type: ignore[attr-defined]
E = Event.__table__  # type: ignore[attr-defined]
AL = AckLink.__table__  # type: ignore[attr-defined]
H = Handoff.__table__  # type: ignore[attr-defined]
CC = ControlCounter.__table__  # type: ignore[attr-defined]
OUT = Output.__table__  # type: ignore[attr-defined]
MAX_MESSAGES = 500  # one object's timeline; more is a key reused beyond reason (shown as truncated)
MAX_NORMS = 200


def _other(kind: str) -> str:
    return "shipment" if kind == "order" else "order"


def _messages_with(conn: Connection, norms: Iterable[str], kinds: Sequence[str]) -> set[int]:
    norms = list(dict.fromkeys(norms))[:MAX_NORMS]
    if not norms:
        return set()
    q = (sa.select(BK.c.message_id).where(BK.c.norm.in_(norms), BK.c.kind.in_(kinds)).distinct()
         .limit(MAX_MESSAGES + 1))
    return {r[0] for r in conn.execute(q)}


def _norms_of(conn: Connection, ids: Iterable[int], kinds: Sequence[str], limit: int = MAX_NORMS) -> set[str]:
    """At most ``limit`` distinct join forms of the ``kinds`` keys of the messages ``ids``, the database stopping at
    the limit: a 100,000-set interchange has over a million shipment-family keys (reading them all held 120 MB)."""
    ids = list(ids)
    out: set[str] = set()
    for chunk in range(0, len(ids), 500):
        q = (sa.select(BK.c.norm).where(BK.c.message_id.in_(ids[chunk:chunk + 500]), BK.c.kind.in_(kinds),
                                        BK.c.norm.is_not(None)).distinct().limit(limit - len(out)))
        out.update(r[0] for r in conn.execute(q))
        if len(out) >= limit:
            break
    return out


def related_messages(conn: Connection, kind: str, norm: str) -> list[int]:
    """Ids of the messages on the timeline of the ``kind`` object named ``norm`` (oldest id first)."""
    found = sorted({r[0] for r in conn.execute(related_ids(kind), {"norm": norm})})
    return found[:MAX_MESSAGES]


@cache
def related_ids(kind: str) -> Any:
    """The statement selecting the ids of :func:`related_messages` (unordered, possibly a few over the limit), for
    the parameter ``norm``. Built once per kind: building it costs more than running it.

    One statement (one round trip), every step served by ``ix_business_key_norm`` or the (message_id, kind, value)
    unique index: the messages carrying the key in its family (``first``), the family's other keys on them
    (``fam``: a 940 names order and PO), the messages carrying any of those (``ids``), the other family's keys on
    them (``oth``: an order's 945 names its shipment) and the messages carrying those (``across``). For a shipment,
    an order's document that names another shipment of the same order is left out."""
    own, other = list(OBJECT_KINDS[kind]), list(OBJECT_KINDS[_other(kind)])
    norm = sa.bindparam("norm", type_=BK.c.norm.type)
    first = (sa.select(BK.c.message_id).where(BK.c.norm == norm, BK.c.kind.in_(own)).distinct()
             .limit(MAX_MESSAGES + 1).cte("first"))
    fam = sa.union(
        sa.select(BK.c.norm).where(BK.c.message_id.in_(sa.select(first.c.message_id)), BK.c.kind.in_(own),
                                   BK.c.norm.is_not(None)),
        sa.select(norm.label("norm")),
    ).cte("fam")
    ids = (sa.select(BK.c.message_id).where(BK.c.norm.in_(sa.select(fam.c.norm).limit(MAX_NORMS)), BK.c.kind.in_(own))
           .distinct().limit(MAX_MESSAGES + 1).cte("ids"))
    oth = (sa.select(BK.c.norm).where(BK.c.message_id.in_(sa.select(ids.c.message_id)), BK.c.kind.in_(other),
                                      BK.c.norm.is_not(None)).distinct().limit(MAX_NORMS).cte("oth"))
    across = sa.select(BK.c.message_id).where(BK.c.norm.in_(sa.select(oth.c.norm)), BK.c.kind.in_(other))
    if kind == "shipment":
        # an order's documents belong to this shipment; another shipment of the same order does not. Tested once
        # per message (``cand``), not once per key row: on a large interchange the test reads its own keys
        cand = across.distinct().cte("cand")
        mine = BK.alias("mine")
        across = sa.select(cand.c.message_id).where(~sa.exists().where(
            mine.c.message_id == cand.c.message_id, mine.c.kind.in_(own), mine.c.norm.is_not(None),
            mine.c.norm.not_in(sa.select(fam.c.norm))))
    across_cte = across.distinct().limit(MAX_MESSAGES + 1).cte("across")
    return sa.union(sa.select(ids.c.message_id), sa.select(across_cte.c.message_id))


@dataclass(slots=True)
class Related:
    messages: list[Any]
    keys: dict[int, list[tuple[str, str]]]
    acks: dict[int, list[dict[str, Any]]]
    handoffs: dict[int, list[dict[str, Any]]]
    sla_events: dict[int, list[dict[str, Any]]]
    canonical: dict[int, str]  # message id -> archive key of its latest canonical output (not purged)


SIDE_KEY, SIDE_ACK, SIDE_HANDOFF, SIDE_SLA, SIDE_CANONICAL = range(5)


def _side(src: int, message_id: Any, row_id: Any, strings: Sequence[Any] = (), number: Any = None, at: Any = None,
          data: Any = None) -> list[Any]:
    def null(of: Any) -> Any:  # typed: PostgreSQL resolves an untyped NULL of a UNION branch to text
        return sa.cast(sa.null(), of.type)

    pad = [*strings, *[null(AL.c.kind)] * (5 - len(strings))]
    return [sa.literal(src, sa.Integer).label("src"), message_id.label("message_id"), row_id.label("row_id"),
            *(v.label(f"s{i}") for i, v in enumerate(pad, 1)),
            (number if number is not None else null(AL.c.ack_message_id)).label("n1"),
            (at if at is not None else null(E.c.at)).label("t1"),
            (data if data is not None else null(E.c.detail)).label("j")]


@cache
def _side_rows(with_keys: bool = True) -> Any:
    """Business keys, acknowledgements (997/999/TA1/MDN links), hand-offs, SLA events and canonical outputs of the
    messages ``ids`` (a parameter) in one statement (one round trip instead of five): ``src`` tells the kind, the
    other columns are shared. Built once: building it costs more than running it. ``with_keys=False``: without
    the business keys (a large interchange has hundreds of thousands; the service-level check needs none)."""
    ids: Any = sa.bindparam("ids", expanding=True)
    keys = (sa.select(*_side(SIDE_KEY, BK.c.message_id, BK.c.id, (BK.c.kind, BK.c.value)))
            .where(BK.c.message_id.in_(ids), BK.c.kind != "file"))
    ack_msg = M.alias("ack_msg")
    acks = (sa.select(*_side(SIDE_ACK, AL.c.message_id, AL.c.id, (AL.c.kind, AL.c.result, ack_msg.c.direction,
                                                                  ack_msg.c.file_name, ack_msg.c.status),
                             AL.c.ack_message_id, AL.c.created_at))
            .join_from(AL, ack_msg, ack_msg.c.id == AL.c.ack_message_id).where(AL.c.message_id.in_(ids)))
    handoffs = sa.select(*_side(SIDE_HANDOFF, H.c.message_id, H.c.id, (H.c.destination, H.c.event_type, H.c.status),
                                H.c.attempts, H.c.delivered_at)).where(H.c.message_id.in_(ids))
    sla = (sa.select(*_side(SIDE_SLA, E.c.message_id, E.c.id, (E.c.name,), at=E.c.at, data=E.c.detail))
           .where(E.c.message_id.in_(ids), E.c.name.like("sla.%")))
    canonical = (sa.select(*_side(SIDE_CANONICAL, OUT.c.message_id, OUT.c.id, (OUT.c.archive_key,),
                                  at=OUT.c.purged_at))
                 .where(OUT.c.message_id.in_(ids), OUT.c.kind == OutputKind.canonical.value))
    union = sa.union_all(*([keys] if with_keys else []), acks, handoffs, sla, canonical).subquery()
    return sa.select(union).order_by(union.c.src, union.c.row_id)


def load(conn: Connection, ids: Sequence[int], *, keys: bool = True) -> Related:
    """The messages, their keys (unless ``keys=False``: ``Related.keys`` stays empty), acknowledgements
    (997/999/TA1/MDN links), hand-offs and SLA events."""
    ids = list(ids)
    msgs = list(conn.execute(sa.select(M).where(M.c.id.in_(ids)))) if ids else []
    return _load_side(conn, msgs, with_keys=keys)


def family_norms(conn: Connection, ids: Sequence[int], kind: str, limit: int = MAX_NORMS) -> list[str]:
    """The first ``limit`` (in sort order) distinct join forms of the ``kind`` family's keys of the messages
    ``ids``, read by the database: never all the keys of a large interchange in memory."""
    ids = list(ids)
    if not ids:
        return []
    q = (sa.select(BK.c.norm).where(BK.c.message_id.in_(ids), BK.c.kind.in_(OBJECT_KINDS[kind]),
                                    BK.c.norm.is_not(None), BK.c.norm != "")
         .distinct().order_by(BK.c.norm).limit(limit))
    return [r[0] for r in conn.execute(q)]


def load_related(conn: Connection, kind: str, norm: str) -> Related:
    """:func:`load` of :func:`related_messages`, the join and the messages in one statement (two round trips
    for a whole timeline: this one and the keys and side rows)."""
    return _load_side(conn, list(conn.execute(_related_rows(kind), {"norm": norm})))


@cache
def _related_rows(kind: str) -> Any:
    sub = related_ids(kind).subquery()
    return sa.select(M).where(M.c.id.in_(sa.select(sub.c.message_id))).order_by(M.c.id).limit(MAX_MESSAGES)


def _load_side(conn: Connection, msgs: list[Any], *, with_keys: bool = True) -> Related:
    ids = [m.id for m in msgs]
    keys: dict[int, list[tuple[str, str]]] = defaultdict(list)
    acks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    handoffs: dict[int, list[dict[str, Any]]] = defaultdict(list)
    sla: dict[int, list[dict[str, Any]]] = defaultdict(list)
    canonical: dict[int, str] = {}
    if not ids:
        return Related(msgs, keys, acks, handoffs, sla, canonical)
    for r in conn.execute(_side_rows(with_keys), {"ids": ids}):
        if r.src == SIDE_KEY:
            keys[r.message_id].append((r.s1, r.s2))
        elif r.src == SIDE_ACK:
            acks[r.message_id].append({"kind": r.s1, "result": r.s2, "ack_message_id": r.n1, "direction": r.s3,
                                       "file_name": r.s4, "status": r.s5, "at": r.t1.isoformat(),
                                       "link": f"/api/messages/{r.n1}"})
        elif r.src == SIDE_HANDOFF:
            handoffs[r.message_id].append({"destination": r.s1, "event_type": r.s2, "status": r.s3,
                                           "attempts": r.n1, "delivered_at": r.t1.isoformat() if r.t1 else None})
        elif r.src == SIDE_SLA:
            sla[r.message_id].append({"name": r.s1, "at": r.t1.isoformat(), "detail": r.j})
        elif r.t1 is None:  # a canonical output not purged
            canonical[r.message_id] = r.s1
        else:
            canonical.pop(r.message_id, None)
    return Related(msgs, keys, acks, handoffs, sla, canonical)


def find_object(conn: Connection, kind: str, norm: str, ids: Sequence[int] = (), norms: Iterable[str] = ()) -> Any:
    """The indexed object named ``norm``, or the object of another key of ``ids`` or of the messages sharing one
    (an 856 naming only the PO joins the order its 940 named by order number). ``norms``: the family's keys of
    ``ids`` when the caller has them (their normalised values), which saves reading them again."""
    known = [n for n in dict.fromkeys(norms) if n and n != norm][:MAX_NORMS]
    if known:  # the object named ``norm`` first, else the oldest named by another key of the messages: one query
        row = conn.execute(sa.select(BO).where(BO.c.kind == kind, BO.c.norm.in_([norm, *known]))
                           .order_by(sa.case((BO.c.norm == norm, 0), else_=1), BO.c.id).limit(1)).first()
    else:
        row = conn.execute(sa.select(BO).where(BO.c.kind == kind, BO.c.norm == norm)).first()
    if row is not None or not ids:
        return row
    kinds = OBJECT_KINDS[kind]
    steps: tuple[bool, ...]
    if known:  # the messages' own keys were looked up above: widen at once
        found, steps = {norm, *known}, (True,)
    else:
        found, steps = _norms_of(conn, ids, kinds), (False, True)
    for widen in steps:
        if widen:
            found = _norms_of(conn, _messages_with(conn, found, kinds), kinds)
        if not found:
            return None
        row = conn.execute(sa.select(BO).where(BO.c.kind == kind, BO.c.norm.in_(list(found)[:MAX_NORMS]))
                           .order_by(BO.c.id).limit(1)).first()
        if row is not None:
            return row
    return None


def breaches_of(conn: Connection, object_id: int) -> list[Any]:
    return list(conn.execute(sa.select(SB).where(SB.c.object_id == object_id).order_by(SB.c.id)))


# -- claims -------------------------------------------------------------------------------------------------
def claim_due(engine: Engine, *, owner: str, now: datetime, lease: timedelta, limit: int = 50) -> list[Any]:
    """Objects whose check is due, leased to ``owner`` (nobody else gets them until the lease ends)."""
    with engine.begin() as conn:
        free = sa.or_(BO.c.lease_until.is_(None), BO.c.lease_until < now)
        q = (sa.select(BO.c.id).where(BO.c.check_due_at.is_not(None), BO.c.check_due_at <= now, free)
             .order_by(BO.c.check_due_at).limit(limit))
        if engine.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        ids = [r[0] for r in conn.execute(q)]
        if not ids:
            return []
        conn.execute(sa.update(BO).where(BO.c.id.in_(ids), free).values(lease_owner=owner, lease_until=now + lease))
        return list(conn.execute(sa.select(BO).where(BO.c.id.in_(ids), BO.c.lease_owner == owner)))


@dataclass(slots=True)
class NewBreach:
    message_id: int
    partner_id: str | None
    level: str
    kind: str
    due_at: datetime
    detail: dict[str, Any]


def finish(engine: Engine, object_id: int, *, owner: str, now: datetime, stage: str, next_check: datetime | None,
           breaches: Sequence[NewBreach], touch: Sequence[str] = ()) -> list[int]:
    """Write one evaluation in one transaction: the object's stage and next check (lease released), the new
    breaches, an ``sla.breached`` event on each breach's document, and that document's ``updated_at`` (so a
    resolved worklist item of an earlier breach comes back); ``touch``: normalised keys of orders to evaluate again
    (a shipment whose stage changed moves its order). Returns the ids of the breaches new here."""
    new: list[int] = []
    with engine.begin() as conn:
        held = conn.execute(sa.update(BO).where(BO.c.id == object_id, BO.c.lease_owner == owner).values(
            stage=stage, check_due_at=next_check, lease_owner=None, lease_until=None))
        if held.rowcount != 1:
            return []  # the lease ran out and another node has it: its evaluation counts
        if touch:
            conn.execute(sa.update(BO).where(BO.c.kind == "order", BO.c.norm.in_(list(touch)[:MAX_NORMS]),
                                             BO.c.id != object_id).values(check_due_at=now))
        known = {r[0] for r in conn.execute(sa.select(SB.c.level).where(SB.c.object_id == object_id))}
        events = []
        for b in breaches:
            if b.level in known:
                continue
            res = conn.execute(sa.insert(SB).values(
                object_id=object_id, message_id=b.message_id, partner_id=b.partner_id, level=b.level, kind=b.kind,
                detected_at=now, due_at=b.due_at, detail=b.detail))
            new.append(int(res.inserted_primary_key[0]))  # type: ignore[index]
            events.append({"message_id": b.message_id, "name": "sla.breached", "at": now, "actor": "gateway",
                           "detail": b.detail})
            conn.execute(sa.update(M).where(M.c.id == b.message_id).values(updated_at=now))
        if events:
            conn.execute(sa.insert(E), events)
            conn.execute(sa.update(BO).where(BO.c.id == object_id).values(breaches=BO.c.breaches + len(events)))
    return new


def unannounced(engine: Engine, *, limit: int = 100) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(SB).where(SB.c.announced_at.is_(None)).order_by(SB.c.id).limit(limit)))


def mark_announced(engine: Engine, breach_id: int, now: datetime) -> bool:
    with engine.begin() as conn:
        res = conn.execute(sa.update(SB).where(SB.c.id == breach_id, SB.c.announced_at.is_(None))
                           .values(announced_at=now))
        return res.rowcount == 1


# -- listing ------------------------------------------------------------------------------------------------
def list_objects(conn: Connection, kind: str, *, partner: str | None = None, stage: str | None = None,
                 since: datetime | None = None, until: datetime | None = None, breached: bool | None = None,
                 limit: int = 50, offset: int = 0) -> tuple[list[Any], int]:
    """Objects of ``kind``, most recently active first, with the total matching."""
    where = [BO.c.kind == kind]
    if partner:
        where.append(BO.c.partner_id == partner)
    if stage:
        where.append(BO.c.stage == stage)
    if since:
        where.append(BO.c.last_at >= since)
    if until:
        where.append(BO.c.first_at < until)
    if breached is not None:
        # a literal 0, not a bound parameter: only then may the planners use the partial index (breaches > 0)
        zero: Any = sa.literal_column("0")
        where.append(BO.c.breaches > zero if breached else BO.c.breaches == zero)
    total = conn.execute(sa.select(sa.func.count()).select_from(BO).where(*where)).scalar_one()
    rows = conn.execute(sa.select(BO).where(*where).order_by(BO.c.last_at.desc(), BO.c.id.desc())
                        .limit(limit).offset(offset)).all()
    return list(rows), int(total)
