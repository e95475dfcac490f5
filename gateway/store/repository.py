"""Operations on the audit store: record messages and their timeline, lineage, acknowledgements, counters.

Every method runs in its own short transaction. Status changes and the event that records them are written
together, so the timeline and the status never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Integer, bindparam, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gateway.errors import NotFoundError
from gateway.store import batch, records
from gateway.store.archive import Blob
from gateway.store.db import reader
from gateway.store.models import (
    UNFINISHED_IN,
    AckLink,
    BusinessKey,
    DeliveryAttempt,
    Direction,
    Event,
    FunctionalGroup,
    Interchange,
    Message,
    MessageStatus,
    Output,
    TransactionSet,
)
from gateway.store.rows import message_columns, message_of
from gateway.store.search import MessageQuery, Page, search_messages
from gateway.store.search import stats as _stats
from gateway.store.types import utcnow

__all__ = ["GroupRecord", "InterchangeRecord", "Lineage", "MessageQuery", "Page", "SetRecord", "Store"]

MAX_CONTROL_NUMBER = 999_999_999


@dataclass(frozen=True, slots=True)
class SetRecord:
    set_id: str
    control_number: str | None
    segment_count: int | None = None
    valid: bool = True
    ack_code: str | None = None


@dataclass(frozen=True, slots=True)
class GroupRecord:
    functional_id: str | None
    sender_id: str | None
    receiver_id: str | None
    control_number: str | None
    version: str | None
    transactions: Sequence[SetRecord] = ()


@dataclass(frozen=True, slots=True)
class InterchangeRecord:
    sender_qualifier: str | None
    sender_id: str | None
    receiver_qualifier: str | None
    receiver_id: str | None
    control_number: str | None
    version: str | None = None
    usage: str | None = None
    date: str | None = None
    time: str | None = None
    groups: Sequence[GroupRecord] = ()


@dataclass(frozen=True, slots=True)
class Lineage:
    interchanges: list[Interchange]
    groups: list[FunctionalGroup]
    transactions: list[TransactionSet]


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to create (:meth:`Store.create_messages`): its columns, first events, and writes needing its id."""

    fields: dict[str, Any]
    events: Sequence[tuple[str, MessageStatus | None, dict[str, Any] | None]]
    actor: str = "gateway"
    then: Callable[[int], batch.Batch] | None = None


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- messages ----------------------------------------------------------------------------------------
    def create_message(
        self,
        *,
        events: Sequence[tuple[str, MessageStatus | None, dict[str, Any] | None]],
        actor: str = "gateway",
        then: Callable[[int], batch.Batch] | None = None,
        look_first: bool = True,
        **fields: Any,
    ) -> tuple[Message, bool]:
        """Insert a message with its first timeline events, in one transaction (with ``then(new_id)``'s writes).

        With an ``idempotency_key`` already known, nothing is written: the existing message comes back with
        ``False``, and the caller resumes it instead of duplicating it. ``look_first=False``: the caller has just
        looked the key up (the unique index still catches a race, with the same answer).
        """
        key = fields.get("idempotency_key")
        if key is not None and look_first:
            found = self.find_by_key(key)
            if found is not None:
                return found, False
        try:
            return self.create_messages([NewMessage(fields, events, actor, then)])[0], True
        except IntegrityError:
            found = self.find_by_key(key) if key is not None else None
            if found is None:
                raise
            return found, False

    def create_messages(self, new: Sequence[NewMessage]) -> list[Message]:
        """Insert several messages, each with its first events and ``then`` writes, in ONE transaction (group
        commit of the inbound flow's first step). Raises ``IntegrityError`` (nothing written) when an idempotency
        key is taken: the caller falls back to :meth:`create_message`, one by one."""
        if not new:
            return []
        made: list[tuple[Message, list[dict[str, Any]], batch.Batch]] = []
        with self.engine.begin() as conn:  # Core: one INSERT ... RETURNING for all, events and keys in bulk
            keys = batch.Batch()
            now = utcnow()  # created_at, updated_at and the first events' time: one moment (one text to bind)
            cols = [message_columns(n.fields, now) for n in new]  # every column: defaults filled in, enums
            for c in cols:
                del c["id"]
            ids = batch.insert_returning(conn, batch.INSERT_MESSAGES, cols)
            for n, c, mid in zip(new, cols, ids, strict=True):
                c["id"] = mid
                msg = message_of(c)  # not Message(**c): see gateway.store.rows
                rows = [
                    {"message_id": mid, "name": name, "actor": n.actor, "detail": detail, "at": now,
                     "status": MessageStatus(status).value if status is not None else None}
                    for name, status, detail in n.events
                ]
                if msg.file_name:
                    keys.keys(mid, [("file", msg.file_name)])
                made.append((msg, rows, n.then(mid) if n.then is not None else batch.Batch()))
            # the first events (ahead of the others), then the callers' writes that need the new ids, in the same
            # transaction (on PostgreSQL in one statement with the keys, links and their events: pg_bulk)
            first = batch.Batch(events=[r for _m, rows, _t in made for r in rows])
            batch.run(conn, [first, keys, *(t for _m, _r, t in made)])
        done = []
        for msg, rows, then in made:
            then.events[:0] = rows  # for the observers: what this transaction wrote about each message
            then.messages[msg.id] = msg  # type: ignore[index]
            done.append(then)
        _report(self.engine, done)
        return [m for m, _r, _t in made]

    def get(self, message_id: int) -> Message:
        with self.session() as s:
            msg = s.get(Message, message_id)
            if msg is None:
                raise NotFoundError(f"no message with id {message_id}")
            return msg

    def find_by_key(self, idempotency_key: str) -> Message | None:
        with reader(self.engine) as conn:  # Core on the hot path: every received item asks this first
            row = conn.execute(batch.FIND_MESSAGE_BY_KEY, {"key": idempotency_key}).mappings().first()
        return message_of(row) if row is not None else None

    def find_by_keys(self, keys: Sequence[str]) -> dict[str, Message]:
        """The messages of several idempotency keys, in one query (keys not found are left out)."""
        if not keys:
            return {}
        with reader(self.engine) as conn:
            rows = conn.execute(batch.FIND_MESSAGES_BY_KEYS, {"keys": sorted(set(keys))})
            found = [message_of(r) for r in rows.mappings()]
        return {m.idempotency_key: m for m in found if m.idempotency_key is not None}

    def update(
        self,
        message_id: int,
        *,
        event: str | None = None,
        status: MessageStatus | None = None,
        actor: str = "gateway",
        detail: dict[str, Any] | None = None,
        more_events: Sequence[tuple[str, dict[str, Any] | None]] = (),
        **fields: Any,
    ) -> Message:
        """Change fields and/or status, and record ``event`` (then ``more_events``, as (name, detail) pairs) on the
        timeline, in one transaction."""
        with self.session() as s:
            msg = s.get(Message, message_id)
            if msg is None:
                raise NotFoundError(f"no message with id {message_id}")
            for k, v in fields.items():
                setattr(msg, k, v)
            if status is not None:
                msg.status = status
            msg.updated_at = utcnow()
            s.add(msg)
            if event is not None:
                s.add(Event(message_id=message_id, name=event, status=status, actor=actor, detail=detail))
            for name, more in more_events:
                s.add(Event(message_id=message_id, name=name, actor=actor, detail=more))
            s.commit()
            return msg

    def add_event(
        self, message_id: int, name: str, *, detail: dict[str, Any] | None = None, actor: str = "gateway"
    ) -> None:
        with self.session() as s:
            s.add(Event(message_id=message_id, name=name, actor=actor, detail=detail))
            s.commit()

    def events(self, message_id: int) -> list[Event]:
        with self.session() as s:
            q = select(Event).where(Event.message_id == message_id).order_by(col(Event.id))
            return list(s.exec(q).all())

    def list_messages(
        self,
        *,
        page: int = 1,
        limit: int = 50,
        partner_id: str | None = None,
        direction: Direction | None = None,
        status: MessageStatus | None = None,
    ) -> Page:
        """Newest first, paginated, with the total count of matches (see :meth:`search` for every filter)."""
        return self.search(MessageQuery(page=page, limit=limit, partner=partner_id, direction=direction, status=status))

    def search(self, query: MessageQuery) -> Page:
        """Search messages (filters, free text over business keys and file names), newest first, with a total."""
        with self.session() as s:
            return search_messages(s, query)

    def stats(self, *, since: datetime, partner: str | None = None) -> dict[str, Any]:
        with self.session() as s:
            return _stats(s, since=since, partner=partner)

    # -- business keys, outputs, delivery attempts (see gateway.store.records) ----------------------------------
    def record_business_keys(self, message_id: int, keys: Iterable[tuple[str, str]]) -> int:
        with self.session() as s:
            n = records.record_business_keys(s, message_id, keys)
            s.commit()
            return n

    def mark_key_reading(self, message_id: int) -> None:
        """Before a reading writes the message's keys ahead of its step (see records.mark_key_reading)."""
        with self.session() as s:
            records.mark_key_reading(s, message_id)
            s.commit()

    def forget_unsettled_keys(self, message_id: int) -> int:
        """Delete the keys of the message's refused reading, and only those (see records.forget_unsettled_keys)."""
        with self.session() as s:
            n = records.forget_unsettled_keys(s, message_id)
            s.commit()
            return n

    def business_keys(self, message_id: int) -> list[BusinessKey]:
        with self.session() as s:
            return records.business_keys(s, message_id)

    def record_output(self, message_id: int, *, kind: str, blob: Blob, **fields: Any) -> Output:
        with self.session() as s:
            out = records.record_output(s, message_id, kind=kind, blob=blob, **fields)
            s.commit()
            return out

    def outputs(self, message_id: int, kind: str | None = None) -> list[Output]:
        with self.session() as s:
            return records.outputs(s, message_id, kind)

    def canonical_outputs(self, message_ids: Sequence[int]) -> dict[int, str]:
        """The archive key of each message's latest canonical output, in one query (messages without one are left
        out)."""
        if not message_ids:
            return {}
        t = batch.T_OUTPUT
        q = (core_select(t.c.message_id, t.c.archive_key)
             .where(t.c.message_id.in_(list(message_ids)), t.c.kind == "canonical").order_by(t.c.id))
        with self.engine.connect() as conn:
            return {r.message_id: r.archive_key for r in conn.execute(q)}

    def record_delivery_attempt(self, message_id: int, **fields: Any) -> DeliveryAttempt:
        with self.session() as s:
            att = records.record_delivery_attempt(s, message_id, **fields)
            s.commit()
            return att

    def delivery_attempts(self, message_id: int) -> list[DeliveryAttempt]:
        with self.session() as s:
            return records.delivery_attempts(s, message_id)

    def unfinished(self, direction: Direction = Direction.inbound) -> list[Message]:
        """Messages left in a non-terminal state (e.g. by a crash), oldest first: read through
        ``ix_message_unfinished``, which holds only those (a periodic job's cost is its work, not the archive)."""
        with self.session() as s:
            q = (
                select(Message)
                .where(Message.direction == direction, col(Message.status).in_(UNFINISHED_IN))
                .order_by(col(Message.id))
            )
            return list(s.exec(q).all())

    # -- a flow step in one transaction (gateway.store.steps) --------------------------------------------------
    def step(self, message_id: int, step: Any) -> Message:
        """Write one flow step (:class:`gateway.store.steps.Step`): fields, status, events, lineage, keys,
        outputs and a delivery attempt, in one transaction."""
        from gateway.store.steps import write_step

        with self.session() as s:
            msg = write_step(s, message_id, step)
            s.commit()
            return msg

    def claim(self, message_id: int, from_statuses: Sequence[MessageStatus], to: MessageStatus, *,
              stale: Any, owner: str | None = None, mine: bool = False) -> bool:
        """Atomically move a message into a working status, leased to ``owner`` (see
        :func:`gateway.store.steps.claim`)."""
        from gateway.store.steps import claim

        with self.session() as s:
            got = claim(s, message_id, from_statuses, to, stale, owner, mine)
            s.commit()
            return got

    # -- X12 lineage ---------------------------------------------------------------------------------------
    def replace_lineage(self, message_id: int, interchanges: Iterable[InterchangeRecord]) -> None:
        """Record the interchange/group/transaction tree read from a message (replacing an earlier reading)."""
        with self.session() as s:
            for model in (TransactionSet, FunctionalGroup, Interchange):
                for row in s.exec(select(model).where(model.message_id == message_id)).all():
                    s.delete(row)
            s.flush()
            for pos, ic in enumerate(interchanges, start=1):
                isa = Interchange(
                    message_id=message_id,
                    position=pos,
                    sender_qualifier=ic.sender_qualifier,
                    sender_id=ic.sender_id,
                    receiver_qualifier=ic.receiver_qualifier,
                    receiver_id=ic.receiver_id,
                    control_number=ic.control_number,
                    version=ic.version,
                    usage=ic.usage,
                    date=ic.date,
                    time=ic.time,
                )
                s.add(isa)
                s.flush()
                assert isa.id is not None
                for g in ic.groups:
                    grp = FunctionalGroup(
                        interchange_id=isa.id,
                        message_id=message_id,
                        functional_id=g.functional_id,
                        sender_id=g.sender_id,
                        receiver_id=g.receiver_id,
                        control_number=g.control_number,
                        version=g.version,
                    )
                    s.add(grp)
                    s.flush()
                    assert grp.id is not None
                    for t in g.transactions:
                        s.add(
                            TransactionSet(
                                group_id=grp.id,
                                message_id=message_id,
                                set_id=t.set_id,
                                control_number=t.control_number,
                                segment_count=t.segment_count,
                                valid=t.valid,
                                ack_code=t.ack_code,
                            )
                        )
            s.commit()

    def lineage(self, message_id: int) -> Lineage:
        with self.session() as s:

            def rows(model: Any) -> list[Any]:
                return list(s.exec(select(model).where(model.message_id == message_id).order_by(model.id)).all())

            return Lineage(rows(Interchange), rows(FunctionalGroup), rows(TransactionSet))

    # -- acknowledgements ------------------------------------------------------------------------------------
    def link_ack(self, *, message_id: int, ack_message_id: int, kind: str, result: str | None) -> None:
        with self.session() as s:
            s.add(AckLink(message_id=message_id, ack_message_id=ack_message_id, kind=kind, result=result))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()  # already linked: linking is idempotent

    def acks_of(self, message_id: int) -> list[AckLink]:
        """Acknowledgements of ``message_id`` (ours for inbound messages, the partner's for outbound)."""
        with self.session() as s:
            q = select(AckLink).where(AckLink.message_id == message_id).order_by(col(AckLink.id))
            return list(s.exec(q).all())

    def acked_by(self, ack_message_id: int) -> list[AckLink]:
        with self.session() as s:
            q = select(AckLink).where(AckLink.ack_message_id == ack_message_id).order_by(col(AckLink.id))
            return list(s.exec(q).all())

    # -- control numbers -------------------------------------------------------------------------------------
    def next_control_number(self, scope: str, kind: str) -> int:
        """Atomically take the next control number (1..999999999, then wrapping) for ``scope``/``kind``."""
        from gateway.store.models import ControlCounter

        tbl = ControlCounter.__table__  # type: ignore[attr-defined]
        for _ in range(5):
            with self.engine.begin() as conn:
                stmt = (
                    update(tbl)
                    .where(tbl.c.scope == scope, tbl.c.kind == kind)
                    .values(value=tbl.c.value % MAX_CONTROL_NUMBER + 1)
                    .returning(tbl.c.value)
                )
                got = conn.execute(stmt).scalar_one_or_none()
                if got is not None:
                    return int(got)
            try:
                with self.engine.begin() as conn:
                    conn.execute(tbl.insert().values(scope=scope, kind=kind, value=0))
            except IntegrityError:
                pass  # another worker created it first
        raise RuntimeError(f"could not take a control number for {scope}/{kind}")

    # -- the batched path (gateway.store.batch) ----------------------------------------------------------------
    def apply(self, *batches: batch.Batch) -> None:
        """Write one or several batches in ONE transaction (a flow step, or many messages' steps: group commit),
        then bring the Message objects given to ``Batch.update`` in step."""
        todo = [b for b in batches if b]
        if todo:
            with self.engine.begin() as conn:
                batch.run(conn, todo)
        for b in batches:
            for sync in b.after:
                sync()
        if todo:
            _report(self.engine, todo)  # after the sync: the Message objects given to update() are current

    def reserve_control_numbers(self, wanted: dict[tuple[str, str], int]) -> dict[tuple[str, str], list[int]]:
        """Several numbers of several counters ((scope, kind) -> how many) in ONE transaction, one ``UPDATE`` per
        counter (the acknowledgements of a batch of files); same sequence as :meth:`next_control_number`."""
        out: dict[tuple[str, str], list[int]] = {}
        with self.engine.begin() as conn:
            for (scope, kind), n in sorted(wanted.items()):  # a fixed order: no deadlock between workers
                last = conn.execute(_RESERVE, {"b_scope": scope, "b_kind": kind, "step": n - 1}).scalar_one_or_none()
                if last is not None:  # the n numbers before ``last`` (inclusive), wrapping as one by one would
                    out[(scope, kind)] = [(int(last) - 1 - (n - i)) % MAX_CONTROL_NUMBER + 1 for i in range(1, n + 1)]
        for (scope, kind), n in wanted.items():  # a counter used for the first time: created by the single path
            if (scope, kind) not in out:
                first = self.next_control_number(scope, kind)
                rest = self.reserve_control_numbers({(scope, kind): n - 1})[(scope, kind)] if n > 1 else []
                out[(scope, kind)] = [first, *rest]
        return out


def _reserve_statement() -> Any:
    """``UPDATE control_counter SET value = (value + :step) % MAX + 1 ... RETURNING value`` (n numbers at once:
    ``step`` n - 1), built once: a batch of files runs it for every counter it draws from."""
    from gateway.store.models import ControlCounter

    tbl = ControlCounter.__table__  # type: ignore[attr-defined]
    return (
        update(tbl)
        .where(tbl.c.scope == bindparam("b_scope"), tbl.c.kind == bindparam("b_kind"))
        .values(value=(tbl.c.value + bindparam("step", type_=Integer)) % MAX_CONTROL_NUMBER + 1)
        .returning(tbl.c.value)
    )


_RESERVE = _reserve_statement()


def _report(engine: Any, done: Sequence[batch.Batch]) -> None:
    """Tell the after-commit observers (metrics, notifications) what the Core path wrote."""
    from gateway.store import observers

    if not observers.active():
        return
    items: list[tuple[str, int | None, str | None, Any, Any]] = [
        ("event", e["message_id"], e["name"], e["status"], e["detail"]) for b in done for e in b.events
    ]
    items += [w for b in done for w in b.written]
    observers.publish(engine, items, known={k: m for b in done for k, m in b.messages.items()})
