"""``Message`` objects from plain column values, the way SQLAlchemy builds the objects it loads.

``Message(**fields)`` on a SQLModel table model sets each of its 27 fields through ``setattr`` (SQLModel, then
pydantic, then SQLAlchemy's attribute events), about 100 us per object; ``Message.model_validate`` adds pydantic
validation on top. The batched store path creates and reads two messages per small file (the file and its 997), so
it builds them as SQLAlchemy does when it loads rows: a new instance from the class manager (``_sa_instance_state``
and pydantic's private attributes set by ``SQLModel.__new__``) whose ``__dict__`` is filled in one update. The
result is a transient ``Message`` like ``Message(**fields)``: same attribute values, same defaults, and later
``setattr`` calls go through the usual events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.orm import configure_mappers

from gateway.store.models import Direction, Message, MessageStatus
from gateway.store.types import utcnow

_FIELDS = tuple(Message.model_fields)
_REQUIRED = frozenset(name for name, f in Message.model_fields.items() if f.is_required())
_KNOWN = frozenset(_FIELDS)
# every column in field order with its constant default (None for a required one); the factories (``utcnow``)
# are called per message for the columns not given
_TEMPLATE: dict[str, Any] = {name: None if f.is_required() or f.default_factory is not None else f.default
                             for name, f in Message.model_fields.items()}
_FACTORIES: dict[str, Callable[[], Any]] = {
    name: f.default_factory for name, f in Message.model_fields.items()  # type: ignore[misc]
    if f.default_factory is not None
}
_MANAGER = Message._sa_class_manager  # type: ignore[attr-defined]
_MAPPER = Message.__mapper__  # type: ignore[attr-defined]


def message_columns(fields: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Every column of a new message: ``fields`` (``direction`` and ``status`` as their enums) and the defaults of
    the others (``created_at``/``updated_at`` now: ``now`` when given, the same moment for both). Raises
    ``ValueError`` for an unknown field or a missing required one."""
    unknown = fields.keys() - _KNOWN
    if unknown:
        raise ValueError(f"not a message column: {', '.join(sorted(unknown))}")
    missing = _REQUIRED - fields.keys()
    if missing:
        raise ValueError(f"a message needs {', '.join(sorted(missing))}")
    values = _TEMPLATE.copy()
    values.update(fields)
    for name, make in _FACTORIES.items():
        if name not in fields:
            values[name] = now if now is not None and make is utcnow else make()
    direction, status = values["direction"], values["status"]
    if not isinstance(direction, Direction):
        values["direction"] = Direction(direction)
    if not isinstance(status, MessageStatus):
        values["status"] = MessageStatus(status)
    return values


def message_of(columns: Mapping[str, Any] | RowMapping) -> Message:
    """A ``Message`` holding ``columns`` (every column, as :func:`message_columns` or a ``SELECT`` of the message
    table gives them; ``direction``/``status`` may be plain strings)."""
    if not _MAPPER.configured:  # as the first Message() or query would (attribute access needs it)
        configure_mappers()
    msg = _MANAGER.new_instance()
    values = dict(columns)
    if not isinstance(values["direction"], Direction):
        values["direction"] = Direction(values["direction"])
    if not isinstance(values["status"], MessageStatus):
        values["status"] = MessageStatus(values["status"])
    msg.__dict__.update(values)
    object.__setattr__(msg, "__pydantic_fields_set__", set(values))
    return msg


def assign(msg: Message, values: Mapping[str, Any]) -> None:
    """Set columns of ``msg`` (a committed change the caller mirrors). A transient message (one of
    :func:`message_of`'s, in no session) gets them straight in its ``__dict__``, as it got its first values: no
    session tracks its changes, so SQLAlchemy's attribute events have nothing to record. A message a session knows
    (persistent or detached) gets them through ``setattr``, so its history stays right."""
    state = msg._sa_instance_state  # type: ignore[attr-defined]
    if state.key is None and state.session_id is None:  # transient (inspect(msg).transient, without the lookup
        # through the inspection registry and the session registry: a third of this function's time)
        msg.__dict__.update(values)
        msg.__pydantic_fields_set__.update(values)
        return
    for k, v in values.items():
        setattr(msg, k, v)
