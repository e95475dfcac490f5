"""Column types shared by the models: timezone-aware UTC timestamps on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns an aware datetime (SQLite keeps no zone, PostgreSQL uses timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store: pass timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite, one function from an aware datetime to the text SQLAlchemy's ``DATETIME`` stores
        (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), instead of :meth:`process_bind_param` chained to the dialect's own
        processor: every event, message and key row binds one or more timestamps, and the two calls cost twice
        the one (the text is the same, ``tests/store/test_types.py``)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # the last value bound and its text: a step binds one moment to several columns and rows (a message's
        # created_at and updated_at, an update and its event), formatted once. One tuple, replaced whole, so
        # threads binding at once never pair a value with another's text; it holds the value, whose id therefore
        # cannot be reused by another object meanwhile
        last: tuple[datetime | None, str | None] = (None, None)

        def process(value: datetime | None) -> str | None:
            nonlocal last
            if value is None:
                return None
            seen = last
            if seen[0] is value:
                return seen[1]
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the store: pass timezone-aware datetimes")
            given = value
            if value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            text = value.isoformat(" ", "microseconds")[:26]  # without "+00:00": no naive copy made first
            last = (given, text)
            return text

        return process

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
