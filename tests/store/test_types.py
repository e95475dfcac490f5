"""Timestamps in the store (gateway/store/types.py): SQLite's fused bind processor writes the text the chained
one (``process_bind_param`` then SQLAlchemy's ``DATETIME``) writes, and values come back aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from gateway.store.types import UTCDateTime

DIALECT = sqlite.dialect()
VALUES = [
    datetime(2026, 12, 7, 7, 50, 1, 123456, tzinfo=UTC),
    datetime(2026, 12, 7, 7, 50, 1, tzinfo=UTC),  # no microseconds: still six digits
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5))),  # another zone: stored as UTC
    datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=2, minutes=30))),  # day and year change
    datetime(999, 3, 4, 5, 6, 7, 8, tzinfo=UTC),
]


@pytest.mark.parametrize("value", VALUES, ids=str)
def test_the_fused_sqlite_processor_writes_what_the_chained_one_writes(value):
    fused = UTCDateTime().bind_processor(DIALECT)
    chained = DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
    assert fused(value) == chained(UTCDateTime().process_bind_param(value, DIALECT))


def test_none_and_naive_values():
    fused = UTCDateTime().bind_processor(DIALECT)
    assert fused(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        fused(datetime(2026, 12, 7, 7, 50))


def test_a_timestamp_round_trips_through_the_store(store):
    from gateway.store.models import Direction, MessageStatus

    at = datetime(2026, 12, 7, 7, 50, 1, tzinfo=timezone(timedelta(hours=1)))
    msg, _ = store.create_message(direction=Direction.inbound, status=MessageStatus.archived, sha256="0" * 64,
                                  events=[], lease_until=at)
    got = store.get(msg.id).lease_until
    assert got == at and got.tzinfo is not None and got.utcoffset() == timedelta(0)
