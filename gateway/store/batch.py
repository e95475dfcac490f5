"""The batched store path: every write of one flow step (or of several messages' steps) in ONE transaction.

A :class:`Batch` collects writes (status and field changes with their timeline event, bare events, business keys,
outputs, X12 lineage, acknowledgement links, delivery attempts); :meth:`gateway.store.repository.Store.apply`
writes one or many batches in a single transaction with SQLAlchemy Core (bulk ``INSERT`` for keys and lineage, no
ORM unit of work), so a step costs one commit, and many small files can share one (group commit)::

    batch = Batch()
    batch.lineage(msg.id, interchange_records(analysis))
    batch.keys(msg.id, [("po", "4500012345"), ("bol", "BOL1")])
    batch.update(msg, event="envelope.read", status=MessageStatus.processing, detail=summary)
    store.apply(batch)                        # one transaction; ``msg`` (a Message) gets the new field values

    store.apply(*batches)                     # group commit: several messages' steps, one transaction

Writes run in the order they were added. Passing the :class:`Message` object (rather than its id) to
:meth:`Batch.update` keeps that object in step with the row once the transaction has committed. Everything is
idempotent as the single-row methods of :class:`Store` are: keys and acknowledgement links already recorded are
kept once; an output already recorded (same message, kind, archive key) is not recorded again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.business.keys import family, normalise
from gateway.store import pg_bulk
from gateway.store.archive import Blob
from gateway.store.bulk import execute_rows, insert_returning_ids, insert_rows, update_rows
from gateway.store.key_index import insert_keys, insert_new_keys
from gateway.store.key_index import pg_part as pg_key_part
from gateway.store.models import (
    AckLink,
    BusinessKey,
    DeliveryAttempt,
    Event,
    FunctionalGroup,
    Interchange,
    Message,
    MessageStatus,
    Output,
    OutputKind,
    TransactionSet,
)
from gateway.store.records import KINDS, normalise_keys
from gateway.store.rows import assign
from gateway.store.types import utcnow

T_MESSAGE = Message.__table__  # type: ignore[attr-defined]
T_EVENT = Event.__table__  # type: ignore[attr-defined]
T_KEY = BusinessKey.__table__  # type: ignore[attr-defined]
T_OUTPUT = Output.__table__  # type: ignore[attr-defined]
T_INTERCHANGE = Interchange.__table__  # type: ignore[attr-defined]
T_GROUP = FunctionalGroup.__table__  # type: ignore[attr-defined]
T_SET = TransactionSet.__table__  # type: ignore[attr-defined]
T_ACK_LINK = AckLink.__table__  # type: ignore[attr-defined]
T_ATTEMPT = DeliveryAttempt.__table__  # type: ignore[attr-defined]

Op = Callable[[Connection], Any]

# statements built once: executing a prepared statement with parameters skips SQLAlchemy's per-call construction,
# coercion and cache-key work, which costs more than the SQLite insert itself on small files
INSERT_MESSAGES = insert(T_MESSAGE).returning(T_MESSAGE.c.id, sort_by_parameter_order=True)
FIND_MESSAGE_BY_KEY = select(T_MESSAGE).where(T_MESSAGE.c.idempotency_key == bindparam("key")).limit(1)
FIND_MESSAGES_BY_KEYS = select(T_MESSAGE).where(T_MESSAGE.c.idempotency_key.in_(bindparam("keys", expanding=True)))
INSERT_EVENT = insert(T_EVENT)
INSERT_OUTPUT = insert(T_OUTPUT)
INSERT_ATTEMPT = insert(T_ATTEMPT)
INSERT_SET = insert(T_SET)
INSERT_INTERCHANGES = insert(T_INTERCHANGE).returning(T_INTERCHANGE.c.id, sort_by_parameter_order=True)
INSERT_GROUPS = insert(T_GROUP).returning(T_GROUP.c.id, sort_by_parameter_order=True)
_OUTPUTS_OF = select(T_OUTPUT.c.message_id, T_OUTPUT.c.kind, T_OUTPUT.c.archive_key).where(
    T_OUTPUT.c.message_id.in_(bindparam("ids", expanding=True)))
UPDATE_MESSAGE = update(T_MESSAGE).where(T_MESSAGE.c.id == bindparam("_message_id"))
DELETE_LINEAGE = [delete(t).where(t.c.message_id == bindparam("message_id")) for t in (T_SET, T_GROUP, T_INTERCHANGE)]
_JOINED = {kind: family(kind) is not None for kind in KINDS}  # kinds with a join form (orders, shipments)
_IGNORE: dict[tuple[str, str], Any] = {}  # (dialect, table) -> INSERT ... ON CONFLICT DO NOTHING


def _id(message: int | Message) -> int:
    if isinstance(message, int):
        return message
    assert message.id is not None
    return message.id


def _value(v: Any) -> Any:
    return v.value if isinstance(v, MessageStatus) else v


@dataclass
class Batch:
    """Writes to apply together (see the module docstring). Cheap to create; nothing touches the database until
    :meth:`Store.apply`."""

    ops: list[Op] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)  # run once the transaction has committed
    # rows written in bulk after ``ops`` (one INSERT each for all events, all keys): order within each is kept
    events: list[dict[str, Any]] = field(default_factory=list)
    key_rows: list[dict[str, Any]] = field(default_factory=list)
    # the key rows are expected not to be recorded yet (key_index.insert_new_keys); set back to False by the
    # transaction that found some recorded
    fresh_keys: bool = False
    # what observers hear about once committed (gateway.store.observers): (kind, message id, name, status, detail)
    written: list[tuple[str, int | None, str | None, Any, Any]] = field(default_factory=list)
    # Message objects given to update(), by id: observers read their columns from these instead of the database
    messages: dict[int, Message] = field(default_factory=dict)
    # written in bulk across all the batches of a transaction (group commit): one statement each, not one a message
    updates: list[dict[str, Any]] = field(default_factory=list)  # message columns, merged per message in order
    lineages: list[tuple[int, list[Any], bool]] = field(default_factory=list)  # (message id, tree, replace)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    ack_links: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.ops or self.events or self.key_rows or self.updates or self.lineages or self.outputs
                    or self.ack_links or self.attempts)

    def extend(self, other: Batch) -> Batch:
        self.ack_links += other.ack_links
        self.attempts += other.attempts
        self.updates += other.updates
        self.lineages += other.lineages
        self.outputs += other.outputs
        self.ops += other.ops
        self.after += other.after
        self.events += other.events
        self.key_rows += other.key_rows
        self.written += other.written
        self.messages.update(other.messages)
        return self

    # -- the message and its timeline ------------------------------------------------------------------------
    def event(self, message: int | Message, name: str, *, status: MessageStatus | None = None,
              detail: dict[str, Any] | None = None, actor: str = "gateway", at: datetime | None = None) -> Batch:
        self.events.append({"message_id": _id(message), "name": name, "status": _value(status), "actor": actor,
                            "detail": detail, "at": at or utcnow()})
        return self

    def update(self, message: int | Message, *, event: str | None = None, status: MessageStatus | None = None,
               actor: str = "gateway", detail: dict[str, Any] | None = None, **fields: Any) -> Batch:
        """Change fields and/or the status of a message and record ``event`` with it (as ``Store.update``)."""
        mid = _id(message)
        values = {k: _value(v) for k, v in fields.items()}
        if status is not None:
            values["status"] = status.value
        values["updated_at"] = now = utcnow()  # one moment for the change and its event (one text to bind)
        values["_message_id"] = mid
        self.updates.append(values)
        if event is not None:
            self.event(mid, event, status=status, detail=detail, actor=actor, at=now)
        if isinstance(message, Message):
            self.messages[mid] = message
            changed = dict(fields, updated_at=values["updated_at"])
            if status is not None:
                changed["status"] = status

            def sync() -> None:
                assign(message, changed)

            self.after.append(sync)
        return self

    # -- side rows -------------------------------------------------------------------------------------------
    def keys(self, message: int | Message, keys: Iterable[tuple[str, str]]) -> Batch:
        """Business keys (bulk insert; pairs already recorded are kept once), with their join form
        (:func:`gateway.business.keys.normalise`), so the message is on its order's timeline at once."""
        mid = _id(message)
        joined = _JOINED  # normalise_keys admits only these kinds
        self.key_rows += [{"message_id": mid, "kind": k, "value": v,
                           "norm": (normalise(v) or None) if joined[k] else None} for k, v in normalise_keys(keys)]
        return self

    def output(self, message: int | Message, *, kind: OutputKind | str, blob: Blob, content_type: str | None = None,
               file_name: str | None = None) -> Batch:
        mid = _id(message)
        self.outputs.append({"message_id": mid, "kind": OutputKind(kind).value, "archive_key": blob.key,
                             "sha256": blob.sha256, "size": blob.size, "content_type": content_type,
                             "file_name": file_name, "created_at": utcnow()})
        return self

    def lineage(self, message: int | Message, interchanges: Iterable[Any], *, replace: bool = True) -> Batch:
        """The interchange/group/transaction tree of a message, replacing an earlier reading (``InterchangeRecord``
        objects of :mod:`gateway.store.repository`). Transaction sets go in one bulk insert per group.
        ``replace=False`` skips looking for an earlier reading (the caller knows there is none)."""
        self.lineages.append((_id(message), list(interchanges), replace))
        return self

    def ack_link(self, *, message_id: int, ack_message_id: int, kind: str, result: str | None) -> Batch:
        row = {"message_id": message_id, "ack_message_id": ack_message_id, "kind": kind, "result": result,
               "created_at": utcnow()}
        self.written.append(("ack", message_id, kind, result, None))
        self.ack_links.append(row)
        return self

    def delivery_attempt(self, message: int | Message, *, channel: str | None, outcome: str, started_at: datetime,
                         transport_id: str | None = None, error: dict[str, Any] | None = None,
                         actor: str = "gateway") -> Batch:
        row = {"message_id": _id(message), "channel": channel, "started_at": started_at, "finished_at": utcnow(),
               "outcome": outcome, "transport_id": transport_id, "error": error, "actor": actor}
        self.written.append(("delivery", _id(message), channel, outcome, error))
        self.attempts.append(row)
        return self

    def execute(self, op: Op) -> Batch:
        """Any other write, as a function of the open connection (runs in order with the rest)."""
        self.ops.append(op)
        return self


def run(conn: Connection, batches: Sequence[Batch]) -> None:
    """Execute the batches' writes on an open transaction (the caller commits): each batch's own operations in
    order, then, for all batches together, the lineage trees, the outputs, acknowledgement links, delivery
    attempts, the message updates (merged per message, later values win), the business keys and the timeline
    events, each in as few statements as the rows' shapes allow (one round trip each on PostgreSQL, not one a
    message). On PostgreSQL the writes after the lineage (and the outputs' look-up) go in ONE statement
    (:func:`gateway.store.pg_bulk.execute_parts`): a step of a batch of small files is then two to four statements
    instead of six to eight."""
    for b in batches:
        for op in b.ops:
            op(conn)
    lineages = [x for b in batches for x in b.lineages]
    if lineages:
        _write_lineages(conn, lineages)
    pg = conn.dialect.name == "postgresql"
    parts: list[tuple[str, dict[str, Any]]] = []  # PostgreSQL: the writes that go in one statement
    outputs = [x for b in batches for x in b.outputs]
    if outputs:
        new = _new_outputs(conn, outputs)
        if new and pg:
            parts.append(pg_bulk.insert_part(conn, T_OUTPUT, new, prefix="o"))
        elif new:
            insert_rows(conn, INSERT_OUTPUT, new)
    links = [x for b in batches for x in b.ack_links]
    if links and pg:
        parts.append(pg_bulk.insert_part(conn, T_ACK_LINK, links, on_conflict=LINK_UNIQUE, prefix="l"))
    elif links:
        _insert_ignore(conn, T_ACK_LINK, links, LINK_UNIQUE)
    attempts = [x for b in batches for x in b.attempts]
    if attempts and pg:
        parts.append(pg_bulk.insert_part(conn, T_ATTEMPT, attempts, prefix="a"))
    elif attempts:
        insert_rows(conn, INSERT_ATTEMPT, attempts)
    merged: dict[int, dict[str, Any]] = {}
    for b in batches:
        for values in b.updates:
            merged.setdefault(values["_message_id"], {}).update(values)
    shapes: dict[frozenset[str], list[dict[str, Any]]] = {}
    for values in merged.values():
        shapes.setdefault(frozenset(values), []).append(values)
    for n, rows in enumerate(shapes.values()):
        if pg:  # one statement, not a round trip per message; each message in one shape only
            parts.append(pg_bulk.update_part(conn, T_MESSAGE, rows, key="_message_id", prefix=f"u{n}_"))
        else:
            update_rows(conn, UPDATE_MESSAGE, rows)
    key_rows = [x for b in batches if not b.fresh_keys for x in b.key_rows]
    if key_rows and not pg:
        _insert_keys(conn, key_rows)
    fresh = [x for b in batches if b.fresh_keys for x in b.key_rows]
    if fresh and not insert_new_keys(conn, fresh):  # PostgreSQL: in a savepoint of its own, before the rest
        for b in batches:
            b.fresh_keys = False
    if key_rows and pg:  # ON CONFLICT DO NOTHING: the fresh keys just written are kept once
        parts.append(pg_key_part(key_rows, "k"))
    events = [x for b in batches for x in b.events]
    if events and pg:
        parts.append(pg_bulk.insert_part(conn, T_EVENT, events, prefix="e"))
    elif events:
        insert_rows(conn, INSERT_EVENT, events)
    if parts:
        pg_bulk.execute_parts(conn, parts)


LINK_UNIQUE = ["ack_message_id", "message_id", "kind"]


def _new_outputs(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outputs not recorded yet (same message, kind and archive key: kept once)."""
    seen = {tuple(r) for r in conn.execute(_OUTPUTS_OF, {"ids": sorted({r["message_id"] for r in rows})})}
    new = []
    for r in rows:
        k = (r["message_id"], r["kind"], r["archive_key"])
        if k not in seen:
            seen.add(k)
            new.append(r)
    return new


def _insert_ignore(conn: Connection, table: Any, rows: list[dict[str, Any]], index: list[str]) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":  # column arrays, ON CONFLICT DO NOTHING (pg_bulk)
        pg_bulk.insert(conn, table, rows, on_conflict=index)
        return
    stmt = _IGNORE.get((dialect, table.name))
    if stmt is None:
        if dialect == "sqlite":
            stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=index)
        else:  # pragma: no cover - only the two supported backends
            raise RuntimeError(f"unsupported database {dialect}")
        _IGNORE[(dialect, table.name)] = stmt
    execute_rows(conn, stmt, rows)  # SQLite: bound by the driver (gateway.store.bulk)


def _insert_keys(conn: Connection, rows: list[dict[str, Any]]) -> None:
    insert_keys(conn, rows)  # with SQLite's search index (gateway.store.key_index)


def _write_lineages(conn: Connection, lineages: list[tuple[int, list[Any], bool]]) -> None:
    """The interchange/group/set trees of several messages: one INSERT ... RETURNING for all interchanges, one for
    all groups (rows returned in parameter order), sets in bulk (bounded chunks for very large interchanges)."""
    for mid, _tree, replace in lineages:
        for stmt in DELETE_LINEAGE if replace else ():
            conn.execute(stmt, {"message_id": mid})
    ics = [(mid, pos, ic) for mid, tree, _r in lineages for pos, ic in enumerate(tree, start=1)]
    if not ics:
        return
    ic_ids = insert_returning(conn, INSERT_INTERCHANGES, [dict(
        message_id=mid, position=pos, sender_qualifier=ic.sender_qualifier, sender_id=ic.sender_id,
        receiver_qualifier=ic.receiver_qualifier, receiver_id=ic.receiver_id, control_number=ic.control_number,
        version=ic.version, usage=ic.usage, date=ic.date, time=ic.time,
    ) for mid, pos, ic in ics])
    groups = [(mid, ic_id, g) for (mid, _pos, ic), ic_id in zip(ics, ic_ids, strict=True) for g in ic.groups]
    if not groups:
        return
    g_ids = insert_returning(conn, INSERT_GROUPS, [dict(
        interchange_id=ic_id, message_id=mid, functional_id=g.functional_id, sender_id=g.sender_id,
        receiver_id=g.receiver_id, control_number=g.control_number, version=g.version,
    ) for mid, ic_id, g in groups])
    rows: list[dict[str, Any]] = []
    for (mid, _ic, g), g_id in zip(groups, g_ids, strict=True):
        for t in g.transactions:
            rows.append({"group_id": g_id, "message_id": mid, "set_id": t.set_id, "control_number": t.control_number,
                         "segment_count": t.segment_count, "valid": t.valid, "ack_code": t.ack_code})
            if len(rows) >= 5000:  # bounded rows in memory for very large interchanges
                insert_rows(conn, INSERT_SET, rows)
                rows = []
    if rows:
        insert_rows(conn, INSERT_SET, rows)


def insert_returning(conn: Connection, stmt: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows``; their new ids in the rows' order (one statement for one row, bulk for several).

    On SQLite, SQLAlchemy has no sentinel to sort ``RETURNING`` rows by parameter order and falls back to one
    ``INSERT`` per row (100 statements for a batch of 50 files and their 997s). There the rows go in multi-row
    ``INSERT ... VALUES`` statements returning the ids unsorted, and the ids are sorted: the ``id`` columns are
    ``INTEGER PRIMARY KEY`` (the rowid), which SQLite gives each new row as the table's largest rowid plus one, in
    the order the ``VALUES`` rows are inserted, and nothing else writes while this transaction holds the write
    lock (taken by the first of these statements)."""
    if len(rows) == 1:
        return [int(conn.execute(stmt, rows[0]).scalar_one())]
    if conn.dialect.name == "sqlite":
        ids = insert_returning_ids(conn, _plain(stmt), rows)  # multi-row VALUES bound by the driver (bulk.py)
        if ids is None:
            ids = [int(i) for i in conn.execute(_unsorted(stmt), rows).scalars()]
        return sorted(ids)
    if conn.dialect.name == "postgresql":  # one statement text whatever the count (pg_bulk)
        return pg_bulk.insert(conn, stmt.table, rows, returning=True)
    return [int(i) for i in conn.execute(stmt, rows).scalars()]


_UNSORTED: dict[int, Any] = {}  # id(INSERT ... RETURNING id sorted by parameter order) -> the same, unsorted
_PLAIN: dict[int, Any] = {}  # id(INSERT ... RETURNING id sorted by parameter order) -> the plain INSERT


def _plain(stmt: Any) -> Any:
    got = _PLAIN.get(id(stmt))
    if got is None:
        got = _PLAIN[id(stmt)] = (stmt, insert(stmt.table))
    return got[1]


def _unsorted(stmt: Any) -> Any:
    got = _UNSORTED.get(id(stmt))
    if got is None:
        table = stmt.table
        got = _UNSORTED[id(stmt)] = (stmt, insert(table).returning(table.c.id))
    return got[1]
