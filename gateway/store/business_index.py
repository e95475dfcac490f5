"""The index of business objects (orders, shipments) the service-level job maintains: :func:`index_new_keys`.

It reads business keys recorded since a cursor (a ``control_counter`` row, scope ``(business)``) and makes or
touches the ``business_object`` of each message, in chunks of key rows, one short transaction each; the cursor moves
with a guarded UPDATE in the same transaction, so two nodes never index the same rows twice. The join over
normalised keys it widens through, the objects' claims and breaches are :mod:`gateway.store.business`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.business.keys import OBJECT_KINDS, family, normalise, primary_key
from gateway.store.business import BK, BO, CC, MAX_MESSAGES, MAX_NORMS, M, _norms_of

CURSOR = ("(business)", "business_key")
REACH_KEYS = 20_000  # key rows a shared key's widening reads at most (500 messages of 40 keys)


def _cursor(conn: Connection) -> int:
    row = conn.execute(sa.select(CC.c.value).where(CC.c.scope == CURSOR[0], CC.c.kind == CURSOR[1])).first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(CC).values(scope=CURSOR[0], kind=CURSOR[1], value=0))
        except sa.exc.IntegrityError:
            pass  # another node made it
        return 0
    return int(row[0])


def index_new_keys(engine: Engine, *, now: datetime, batch: int = 1000,
                   seen: dict[int, dict[str, Any]] | None = None, bulk: bool = True) -> int:
    """Make or touch the objects of messages whose keys were recorded since the cursor; returns the key rows read
    (0: nothing new, or another node is indexing the same rows).

    One call is one chunk of at most ``batch`` key rows (keyset pagination on the key id above the cursor) in one
    short transaction; its memory does not grow with the size of a message. A message's object is named by its
    :func:`~gateway.business.keys.primary_key` over *all* its keys: for a message whose keys all lie in the chunk
    the chunk's rows are enough; for one that has keys before or after it (a large interchange spans many chunks,
    a key added later) the primary key is found with one bounded query per kind (:func:`_first_key`).
    ``seen``: primary keys already found during this run (message id -> kind -> key); a message spanning many
    chunks is then looked up once per run, not once per chunk."""
    with engine.begin() as conn:
        start = _cursor(conn)
        rows = conn.execute(sa.select(BK.c.id, BK.c.message_id, BK.c.kind, BK.c.value, BK.c.norm)
                            .where(BK.c.id > start).order_by(BK.c.id).limit(batch)).all()
        if not rows:
            return 0
        end = rows[-1].id
        moved = conn.execute(sa.update(CC).where(CC.c.scope == CURSOR[0], CC.c.kind == CURSOR[1],
                                                 CC.c.value == start).values(value=end))
        if moved.rowcount != 1:
            conn.rollback()
            return 0
        # keys written by a path that does not normalise (a bulk insert) get their join form here
        missing = [{"i": r.id, "n": normalise(r.value)} for r in rows
                   if r.norm is None and family(r.kind) and normalise(r.value)]
        if missing:
            conn.execute(sa.update(BK).where(BK.c.id == sa.bindparam("i")).values(norm=sa.bindparam("n")), missing)
        keys: dict[int, list[tuple[str, str]]] = defaultdict(list)
        joins: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # id -> family -> norms
        filled = {m["i"]: m["n"] for m in missing}
        for r in rows:
            keys[r.message_id].append((r.kind, r.value))
            fam, norm = family(r.kind), r.norm if r.norm is not None else filled.get(r.id)
            if fam and norm is not None:
                joins[r.message_id][fam].append(norm)
        ids = list(keys)  # in order of their first key in the chunk
        spanning = _spanning(conn, ids, start, end)
        meta = {r.id: r for r in conn.execute(sa.select(M.c.id, M.c.partner_id, M.c.created_at)
                                              .where(M.c.id.in_(ids)))}
        reach = _unshared(conn, joins, start, end)  # per chunk: see _object_for
        if bulk:  # the spanning messages' lookups at once (as one message at a time would make them)
            if seen is None:
                seen = {}
            _spans(conn, [i for i in sorted(spanning) if i in meta and i not in (ids[0], ids[-1])], seen)
        plans: list[_Plan] = []
        for mid in sorted(ids):
            m = meta.get(mid)
            if m is None:
                continue
            for kind in OBJECT_KINDS:
                if mid not in spanning:
                    named = primary_key(kind, keys[mid])
                elif seen is not None and kind in seen.get(mid, {}):
                    named = seen[mid][kind]
                else:
                    named = _first_key(conn, mid, kind)
                    if seen is not None:
                        seen.setdefault(mid, {})[kind] = named
                if named is None:
                    continue
                if mid not in spanning:
                    norms = set(list(dict.fromkeys(joins[mid][kind]))[:MAX_NORMS])
                elif seen is not None and f"{kind}/norms" in seen.get(mid, {}):
                    norms = seen[mid][f"{kind}/norms"] | set(joins[mid][kind])  # and keys new in this chunk
                else:
                    norms = _norms_of(conn, [mid], OBJECT_KINDS[kind])
                    if seen is not None:
                        seen.setdefault(mid, {})[f"{kind}/norms"] = norms
                plans.append(_Plan(mid, kind, named, norms, m.partner_id, m.created_at))
        if bulk:
            _unshared_plans(conn, plans, reach)
            try:
                with conn.begin_nested():
                    _touch_all(conn, plans, now, dict(reach))
                return len(rows)
            except sa.exc.IntegrityError:
                pass  # another node made one of the chunk's objects meanwhile (PostgreSQL): one message at a time
        for plan in plans:
            _touch(conn, plan.kind, plan.named, plan.norms, plan.partner, plan.at, now, reach)
        return len(rows)


class _Plan(NamedTuple):
    """One message's part in one kind of object: its primary key (key as written, join form), its family's join
    forms, its partner and time."""

    message_id: int
    kind: str
    named: tuple[str, str]
    norms: set[str]
    partner: str | None
    at: datetime


_NEW = 1 << 62  # ids given to the objects a chunk makes until they are inserted (above any real id, in order)


def _touch_all(conn: Connection, plans: list[_Plan], now: datetime,
               reach: dict[tuple[str, str], int | None]) -> None:
    """:func:`_touch` for every message of a chunk in order, with the same result, in a few statements: the
    objects named by any of the chunk's join forms are read at once (per kind, 500 forms a statement); the
    messages are then joined to them in memory, the objects they make get provisional ids (:data:`_NEW` up, in
    the order made, as the store's ids would be); these are inserted in one statement (and their ids read back
    by name) before any :func:`_reach` (which reads the store) and at the end; the touches are one
    ``executemany`` of the earliest and latest time per object. Raises IntegrityError if another node made one
    of the objects meanwhile."""
    known: dict[str, dict[str, int]] = {kind: {} for kind in OBJECT_KINDS}
    for kind in OBJECT_KINDS:
        wanted = sorted({n for p in plans if p.kind == kind for n in (p.named[1], *p.norms)})
        for i in range(0, len(wanted), 500):
            known[kind].update((r.norm, r.id) for r in conn.execute(_own_ids(kind), {"norms": wanted[i:i + 500]}))
    pending: dict[int, dict[str, Any]] = {}  # provisional id -> row
    made = 0
    touched: dict[int, list[datetime]] = {}  # id -> [earliest, latest]

    def flush() -> None:
        if not pending:
            return
        conn.execute(_insert_object(), list(pending.values()))  # one executemany (RETURNING would be per row)
        real: dict[int, int] = {}
        for kind in OBJECT_KINDS:  # their ids, by their unique (kind, norm)
            made_here = {r["norm"]: i for i, r in pending.items() if r["kind"] == kind}
            norms = sorted(made_here)
            for i in range(0, len(norms), 500):
                for r in conn.execute(_own_ids(kind), {"norms": norms[i:i + 500]}):
                    real[made_here[r.norm]] = r.id
        pending.clear()
        for names in known.values():
            for n, i in names.items():
                names[n] = real.get(i, i)
        for k, got in reach.items():
            if got is not None:
                reach[k] = real.get(got, got)
        for old, new in real.items():
            if old in touched:
                touched[new] = touched.pop(old)

    for p in plans:
        names, own = known[p.kind], {p.named[1], *p.norms}
        found = [names[n] for n in own if n in names]
        if found:
            oldest = min(found)
            _reached(reach, p.kind, own, oldest)
            obj: int | None = names.get(p.named[1], oldest)
        else:
            obj = None
            for n in sorted(own):
                if (p.kind, n) not in reach:
                    flush()  # the store answers for the objects made so far
                    reach[(p.kind, n)] = _reach(conn, p.kind, n)
                got = reach[(p.kind, n)]
                if got is not None and (obj is None or got < obj):
                    obj = got
        if obj is None:  # make it (as _touch: first and last time the message's, checked now)
            obj, made = _NEW + made, made + 1
            pending[obj] = {"kind": p.kind, "norm": p.named[1], "key": p.named[0][:128], "partner_id": p.partner,
                            "stage": "ordered" if p.kind == "order" else "shipped", "first_at": p.at,
                            "last_at": p.at, "breaches": 0, "check_due_at": now}
            names[p.named[1]] = obj
            _reached(reach, p.kind, own, obj)
        elif obj in pending:
            row = pending[obj]
            row["first_at"], row["last_at"] = min(row["first_at"], p.at), max(row["last_at"], p.at)
        elif obj in touched:
            span = touched[obj]
            span[0], span[1] = min(span[0], p.at), max(span[1], p.at)
        else:
            touched[obj] = [p.at, p.at]
    flush()
    if touched:
        conn.execute(_touch_objects(), [{"object_id": i, "t_lo": lo, "t_hi": hi, "t_now": now}
                                        for i, (lo, hi) in touched.items()])


@cache
def _own_ids(kind: str) -> Any:
    return sa.select(BO.c.id, BO.c.norm).where(BO.c.kind == kind,
                                               BO.c.norm.in_(sa.bindparam("norms", expanding=True)))


@cache
def _touch_objects() -> Any:
    lo = sa.bindparam("t_lo", type_=BO.c.first_at.type)
    hi = sa.bindparam("t_hi", type_=BO.c.last_at.type)
    return sa.update(BO).where(BO.c.id == sa.bindparam("object_id")).values(
        last_at=sa.case((BO.c.last_at < hi, hi), else_=BO.c.last_at),
        first_at=sa.case((BO.c.first_at > lo, lo), else_=BO.c.first_at),
        check_due_at=sa.bindparam("t_now", type_=BO.c.check_due_at.type))


def _spans(conn: Connection, ids: list[int], seen: dict[int, dict[str, Any]]) -> None:
    """:func:`_first_key` and :func:`~gateway.store.business._norms_of` of many spanning messages at once (two
    statements per kind for up to 500 messages), into ``seen`` as the per-message lookups would put them. Not for
    the chunk's first and last message (they may be a large interchange: those stay bounded lookups): a message
    with more than :data:`MAX_NORMS` join forms in a family is left to :func:`_norms_of` (which stops at the
    limit), so the result is the same."""
    for kind, kinds in OBJECT_KINDS.items():
        todo = [i for i in ids if kind not in seen.get(i, {})]
        for c in range(0, len(todo), 500):
            part = todo[c:c + 500]
            firsts: dict[int, dict[str, str]] = defaultdict(dict)
            for r in conn.execute(_first_keys_of(kind), {"m": part}):
                firsts[r.message_id][r.kind] = r.value
            norms: dict[int, set[str]] = defaultdict(set)
            for r in conn.execute(_norms_of_many(kind), {"m": part}):
                norms[r.message_id].add(r.norm)
            for mid in part:
                named = None
                for k in kinds:
                    value = firsts[mid].get(k)
                    if value is not None and normalise(value):
                        named = value.strip(), normalise(value)
                        break
                seen.setdefault(mid, {})[kind] = named
                if named is not None and len(norms[mid]) <= MAX_NORMS:
                    seen[mid][f"{kind}/norms"] = norms[mid]


@cache
def _first_keys_of(kind: str) -> Any:
    first = (sa.select(sa.func.min(BK.c.id).label("id"))
             .where(BK.c.message_id.in_(sa.bindparam("m", expanding=True)), BK.c.kind.in_(list(OBJECT_KINDS[kind])),
                    BK.c.norm.is_not(None), BK.c.norm != "").group_by(BK.c.message_id, BK.c.kind))
    return sa.select(BK.c.message_id, BK.c.kind, BK.c.value).where(BK.c.id.in_(first))


@cache
def _norms_of_many(kind: str) -> Any:
    """The distinct join forms of a family per message, at most MAX_NORMS + 1 each (one over: too many to take
    them all)."""
    distinct = (sa.select(BK.c.message_id, BK.c.norm)
                .where(BK.c.message_id.in_(sa.bindparam("m", expanding=True)),
                       BK.c.kind.in_(list(OBJECT_KINDS[kind])), BK.c.norm.is_not(None))
                .group_by(BK.c.message_id, BK.c.norm).subquery())
    ranked = sa.select(distinct.c.message_id, distinct.c.norm, sa.func.row_number().over(
        partition_by=distinct.c.message_id, order_by=distinct.c.norm).label("rn")).subquery()
    return sa.select(ranked.c.message_id, ranked.c.norm).where(ranked.c.rn <= MAX_NORMS + 1)


def _unshared_plans(conn: Connection, plans: list[_Plan], reach: dict[tuple[str, str], int | None]) -> None:
    """As :func:`_unshared`, for the join forms of the chunk's messages read from outside it (spanning
    messages): those no other message carries reach no object but the message's own. One statement per kind
    (500 forms each), reading only these messages' keys and, per key, its index entries up to another message's."""
    for kind in OBJECT_KINDS:
        mids = sorted({p_.message_id for p_ in plans if p_.kind == kind
                       for n in p_.norms | {p_.named[1]} if (kind, n) not in reach})
        todo = sorted({n for p_ in plans if p_.kind == kind for n in p_.norms | {p_.named[1]}
                       if (kind, n) not in reach})
        for c in range(0, len(todo), 500):
            part = todo[c:c + 500]
            shared = {r[0] for r in conn.execute(_shared_of(kind), {"n": part, "m": mids})}
            reach.update(((kind, n), None) for n in part if n not in shared)


@cache
def _shared_of(kind: str) -> Any:
    kinds = list(OBJECT_KINDS[kind])
    other = BK.alias("other")
    return (sa.select(BK.c.norm)
            .where(BK.c.message_id.in_(sa.bindparam("m", expanding=True)),
                   BK.c.norm.in_(sa.bindparam("n", expanding=True)), BK.c.kind.in_(kinds),
                   sa.exists().where(other.c.norm == BK.c.norm, other.c.kind.in_(kinds),
                                     other.c.message_id != BK.c.message_id)).distinct())


def _spanning(conn: Connection, ids: list[int], start: int, end: int) -> set[int]:
    """The messages of a chunk of key rows ``(start, end]`` that have keys outside it: the first and the last
    (a message's keys are written together, so the chunk may cut them), and any other with a key recorded before
    or after (one statement; it reads the keys of those messages only, which lie in the chunk)."""
    edge = {ids[0], ids[-1]}
    inner = [i for i in ids if i not in edge]
    out = set(edge)
    for chunk in range(0, len(inner), 500):
        q = (sa.select(BK.c.message_id).where(BK.c.message_id.in_(inner[chunk:chunk + 500]),
                                              sa.or_(BK.c.id <= start, BK.c.id > end)).distinct())
        out.update(r[0] for r in conn.execute(q))
    return out


def _first_key(conn: Connection, message_id: int, kind: str) -> tuple[str, str] | None:
    """:func:`~gateway.business.keys.primary_key` of a message from the store, without reading all its keys: the
    first key (lowest id) with a join form of each kind of the family, in one statement served by the
    (message_id, kind, value) index (the aggregate keeps one row per kind, whatever the message's size); the
    family's order of preference picks among them."""
    firsts = {r.kind: r for r in conn.execute(_first_keys(kind), {"m": message_id})}
    for k in OBJECT_KINDS[kind]:
        row = firsts.get(k)
        if row is not None and normalise(row.value):
            return row.value.strip(), normalise(row.value)
    return None


@cache
def _first_keys(kind: str) -> Any:
    first = (sa.select(sa.func.min(BK.c.id).label("id"))
             .where(BK.c.message_id == sa.bindparam("m"), BK.c.kind.in_(list(OBJECT_KINDS[kind])),
                    BK.c.norm.is_not(None), BK.c.norm != "").group_by(BK.c.kind))
    return sa.select(BK.c.kind, BK.c.value).where(BK.c.id.in_(first))


def _unshared(conn: Connection, joins: dict[int, dict[str, list[str]]], start: int,
              end: int) -> dict[tuple[str, str], int | None]:
    """The join forms of the chunk's key rows ``(start, end]`` that no other message carries (in their family), as
    entries of :func:`_object_for`'s ``reach`` with no object: through such a key a message reaches only its own
    keys' objects, which it looks up anyway. Most keys are unique (shipment id, BOL, SSCC); one statement per chunk
    spares a :func:`_reach` for each. It reads the chunk's rows and, per row, the key's index entries up to the
    first of another message (a key shared by thousands stops at the second)."""
    out: dict[tuple[str, str], int | None] = {}
    for kind in OBJECT_KINDS:
        shared = {r[0] for r in conn.execute(_shared_norms(kind), {"lo": start, "hi": end})}
        out.update(((kind, n), None) for fam in joins.values() for n in fam.get(kind, ()) if n not in shared)
    return out


@cache
def _shared_norms(kind: str) -> Any:
    kinds = list(OBJECT_KINDS[kind])
    other = BK.alias("other")
    return (sa.select(BK.c.norm)
            .where(BK.c.id > sa.bindparam("lo"), BK.c.id <= sa.bindparam("hi"), BK.c.kind.in_(kinds),
                   sa.exists().where(other.c.norm == BK.c.norm, other.c.kind.in_(kinds),
                                     other.c.message_id != BK.c.message_id)).distinct())


def _reach(conn: Connection, kind: str, norm: str) -> int | None:
    """The oldest ``kind`` object named by a family key of the messages carrying ``norm``: the first
    :data:`MAX_MESSAGES` of them (oldest key first), up to :data:`REACH_KEYS` of their keys. Not 200 arbitrary join
    forms as :func:`find_object` widens: on PostgreSQL (keys of concurrent files interleaved) those missed the object
    the first message made, and each chunk of a burst sharing a PRO number made a new shipment. One statement,
    served by ``ix_business_key_norm`` and the (message_id, kind, value) index, bounded whatever the number of
    messages sharing the key (a carrier's PRO number on every ship notice)."""
    return conn.execute(_reach_statement(kind), {"norm": norm}).scalar()


@cache
def _reach_statement(kind: str) -> Any:
    kinds = list(OBJECT_KINDS[kind])
    carriers = (sa.select(BK.c.message_id).where(BK.c.norm == sa.bindparam("norm", type_=BK.c.norm.type),
                                                 BK.c.kind.in_(kinds))
                .order_by(BK.c.id).limit(MAX_MESSAGES + 1))
    norms = (sa.select(BK.c.norm).where(BK.c.message_id.in_(carriers), BK.c.kind.in_(kinds), BK.c.norm.is_not(None))
             .limit(REACH_KEYS))
    return sa.select(sa.func.min(BO.c.id)).where(BO.c.kind == kind, BO.c.norm.in_(norms))


@cache
def _own_objects(kind: str) -> Any:
    return sa.select(BO).where(BO.c.kind == kind, BO.c.norm.in_(sa.bindparam("norms", expanding=True)))


def _object_for(conn: Connection, kind: str, named: str, norms: set[str],
                reach: dict[tuple[str, str], int | None]) -> tuple[Any, int | None]:
    """The object a message joins (as :func:`find_object`): the one named by its primary key ``named``, else the
    oldest named by another of its family keys ``norms``, else the oldest named by a key of a message sharing one
    of them. Returns it (or None) and the oldest object named by the message's own keys (None if none).

    ``reach`` (one chunk, one transaction): per key, the oldest object reachable through the messages carrying it
    (:func:`_reach`), looked up once per chunk, not once per message: a key shared by thousands of messages cost a
    read of 500 messages and their keys for each of them (bench/results/stall.txt). The caller keeps it current
    as objects are made (:func:`_touch`)."""
    own = sorted({named, *norms})
    found = conn.execute(_own_objects(kind), {"norms": own}).all()
    if found:
        oldest = min(r.id for r in found)
        return next((r for r in found if r.norm == named), min(found, key=lambda r: r.id)), oldest
    best: int | None = None
    for n in own:
        if (kind, n) not in reach:
            reach[(kind, n)] = _reach(conn, kind, n)
        got = reach[(kind, n)]
        if got is not None and (best is None or got < best):
            best = got
    if best is None:
        return None, None
    return conn.execute(sa.select(BO).where(BO.c.id == best)).first(), None


def _touch(conn: Connection, kind: str, named: tuple[str, str], norms: set[str], partner: str | None,
           at: datetime, now: datetime, reach: dict[tuple[str, str], int | None]) -> None:
    obj, oldest = _object_for(conn, kind, named[1], norms, reach)
    if obj is None:  # none named by the message's keys (looked up just now, in this transaction): make it
        try:
            with conn.begin_nested():
                res = conn.execute(_insert_object(), {
                    "kind": kind, "norm": named[1], "key": named[0][:128], "partner_id": partner,
                    "stage": "ordered" if kind == "order" else "shipped", "first_at": at, "last_at": at,
                    "breaches": 0, "check_due_at": now})
            _reached(reach, kind, {named[1], *norms}, int(res.inserted_primary_key[0]))  # type: ignore[index]
            return
        except sa.exc.IntegrityError:
            pass  # another node made it meanwhile (PostgreSQL)
        obj = conn.execute(sa.select(BO).where(BO.c.kind == kind, BO.c.norm == named[1])).first()
        if obj is None:
            return
        oldest = obj.id
    if oldest is not None:
        _reached(reach, kind, {named[1], *norms}, oldest)
    conn.execute(_touch_object(), {"object_id": obj.id, "t_at": at, "t_now": now})


@cache
def _insert_object() -> Any:
    return sa.insert(BO)


@cache
def _touch_object() -> Any:
    at = sa.bindparam("t_at", type_=BO.c.last_at.type)
    return sa.update(BO).where(BO.c.id == sa.bindparam("object_id")).values(
        last_at=sa.case((BO.c.last_at < at, at), else_=BO.c.last_at),
        first_at=sa.case((BO.c.first_at > at, at), else_=BO.c.first_at),
        check_due_at=sa.bindparam("t_now", type_=BO.c.check_due_at.type))


def _reached(reach: dict[tuple[str, str], int | None], kind: str, norms: set[str], object_id: int) -> None:
    """A message carrying ``norms`` now has the object ``object_id`` named by one of them: every key of the message
    reaches it (the entries of :func:`_object_for` looked up before it was made)."""
    for n in norms:
        if (kind, n) in reach:
            got = reach[(kind, n)]
            reach[(kind, n)] = object_id if got is None else min(got, object_id)
