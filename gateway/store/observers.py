"""After-commit observers: who wants to know which timeline events, delivery attempts and acknowledgement links
a transaction wrote (metrics count them, notifications react to dead deliveries and quarantines).

One listener on SQLAlchemy's ``Session`` class sees every write of every flow, whichever Store method or branch
made it, without the flows calling anything. Rows are captured at flush as plain :class:`Written` records and
handed to observers only after the transaction commits (a rollback drops them), so nothing is reported that
did not happen. Observers run in the committing thread: they must be quick and never raise (errors are
logged and swallowed); slow work (sending a notification) belongs on a queue.

    from gateway.store.observers import subscribe
    subscribe(lambda engine, written: ...)          # every engine
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key
from sqlmodel import col

from gateway.logging import get_logger
from gateway.store.db import reader
from gateway.store.models import AckLink, DeliveryAttempt, Event, Message

log = get_logger(__name__)
KEY = "gateway.written"


class Written(NamedTuple):
    """One row a committed transaction wrote. ``kind``: event, delivery or ack. A named tuple: a small file's
    transactions report about twenty-five rows, and a frozen dataclass costs several times as much to make."""

    kind: str
    message_id: int | None
    name: str | None = None  # event name, delivery channel, ack kind
    status: str | None = None  # event status, delivery outcome, ack result
    detail: dict[str, Any] | None = None
    # of the message, when the transaction had it loaded
    direction: str | None = None
    partner_id: str | None = None
    set_ids: str | None = None
    created_at: datetime | None = None
    reason: str | None = None
    file_name: str | None = None


_new = tuple.__new__
Observer = Callable[[Engine | Any, list[Written]], None]
_observers: list[Observer] = []
_lock = threading.Lock()
_installed = False


def subscribe(observer: Observer) -> None:
    with _lock:
        if observer not in _observers:
            _observers.append(observer)
    _install()


def unsubscribe(observer: Observer) -> None:
    with _lock:
        if observer in _observers:
            _observers.remove(observer)


def _message(session: Session, message_id: int | None, *, load: bool = False) -> Any:
    """The message as this transaction has it; with ``load``, read it (a few columns) when it is not loaded."""
    if message_id is None:
        return None
    obj = session.identity_map.get(identity_key(Message, message_id))
    if isinstance(obj, Message):
        return obj
    if not load:
        return None
    cols: tuple[Any, ...] = (
        Message.direction, Message.partner_id, Message.set_ids, Message.created_at, Message.reason, Message.file_name,
    )  # fmt: skip
    return session.connection().execute(select(*cols).where(col(Message.id) == message_id)).first()


def _capture(session: Session, obj: Any) -> Written | None:
    kind: str
    name: str | None
    status: Any
    detail: Any
    if isinstance(obj, Event):
        kind, name, status, detail = "event", obj.name, obj.status, obj.detail
    elif isinstance(obj, DeliveryAttempt):
        kind, name, status, detail = "delivery", obj.channel, obj.outcome, obj.error
    elif isinstance(obj, AckLink):
        kind, name, status, detail = "ack", obj.kind, obj.result, None
    else:
        return None
    m = _message(session, obj.message_id, load=kind == "ack")
    return Written(
        kind=kind, message_id=obj.message_id, name=name, status=str(status) if status is not None else None,
        detail=detail, direction=m.direction if m else None, partner_id=m.partner_id if m else None,
        set_ids=m.set_ids if m else None, created_at=m.created_at if m else None, reason=m.reason if m else None,
        file_name=m.file_name if m else None,
    )  # fmt: skip


def _after_flush(session: Session, _ctx: Any) -> None:
    if not _observers:
        return
    rows = [w for w in (_capture(session, o) for o in session.new) if w is not None]
    if rows:
        session.info.setdefault(KEY, []).extend(rows)


def _after_commit(session: Session) -> None:
    rows = session.info.pop(KEY, None)
    if not rows:
        return
    try:
        bind = session.get_bind()
    except Exception:  # an unbound session: observers get None
        bind = None
    engine = getattr(bind, "engine", bind)
    for observer in list(_observers):
        try:
            observer(engine, rows)
        except Exception:
            log.exception("observer.failed", extra={"fields": {"observer": getattr(observer, "__name__", "?")}})


# the columns of messages that :func:`publish` reads, built once (an expanding IN: one cached compiled form)
_M = Message.__table__.c  # type: ignore[attr-defined]
_COLUMNS_OF = select(_M.id, _M.direction, _M.partner_id, _M.set_ids, _M.created_at, _M.reason, _M.file_name).where(
    _M.id.in_(bindparam("ids", expanding=True)))


_SIX = frozenset(("direction", "partner_id", "set_ids", "created_at", "reason", "file_name"))


def active() -> bool:
    """Someone listens: writers that bypass the ORM (the Core hot path) then report what they wrote."""
    return bool(_observers)


def publish(
    engine: Engine, items: list[tuple[str, int | None, str | None, Any, Any]], known: dict[int, Any] | None = None
) -> None:
    """Report rows a committed Core transaction wrote (``(kind, message_id, name, status, detail)``, as
    :class:`Written`): the batched store path (:mod:`gateway.store.batch`) calls this after its commit, so
    observers see every write whichever path made it. The messages' columns are read in one query (for rows with a
    status, deliveries and acknowledgement links; a bare event has its own fields only), except for the messages in
    ``known`` (id -> the writer's current :class:`Message`), whose columns are taken from the objects."""
    if not _observers or not items:
        return
    # the message's columns for what observers act on (status changes, deliveries, acks); a bare event that leaves
    # the status alone (mapping.done, ack.sent, source.committed ...) needs none: no query for a step of only those
    known = known or {}
    ids = sorted({
        mid for k, mid, _n, status, _d in items
        if mid is not None and mid not in known and (k != "event" or status is not None)
    })
    found: dict[Any, Any] = {}
    if ids:
        with reader(engine) as conn:
            found = {r[0]: r for r in conn.execute(_COLUMNS_OF, {"ids": ids})}
    found.update(known)
    # each message's columns read once, not once per row written about it (a small file has a dozen events)
    columns: dict[Any, tuple[Any, ...]] = {None: (None,) * 6}
    for mid, m in found.items():
        # a Message object's loaded columns are in its __dict__ (read there: an ORM attribute's __get__ is a Python
        # call per column); a row of _COLUMNS_OF is read by attribute
        v = m.__dict__ if isinstance(m, Message) else None
        if v is not None and v.keys() >= _SIX:
            direction = v["direction"]
            columns[mid] = (getattr(direction, "value", direction), v["partner_id"], v["set_ids"], v["created_at"],
                            v["reason"], v["file_name"])
        else:
            columns[mid] = (getattr(m.direction, "value", m.direction), m.partner_id, m.set_ids, m.created_at,
                            m.reason, m.file_name)
    # each row made by tuple.__new__ in Written's field order: the named tuple's own __new__ is a Python call with
    # keyword matching, per row (a small file's transactions report about twenty-five)
    none = columns[None]
    get = columns.get
    rows = [_new(Written, (kind, mid, name, None if status is None else str(status), detail, *(get(mid) or none)))
            for kind, mid, name, status, detail in items]
    for observer in list(_observers):
        try:
            observer(engine, rows)
        except Exception:
            log.exception("observer.failed", extra={"fields": {"observer": getattr(observer, "__name__", "?")}})


def _after_rollback(session: Session) -> None:
    session.info.pop(KEY, None)


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda s, _t: _after_rollback(s))
        _installed = True
