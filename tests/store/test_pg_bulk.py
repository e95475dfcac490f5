"""PostgreSQL's bulk writes as column arrays (gateway.store.pg_bulk) store exactly what SQLAlchemy's own
``insert(table)`` / ``update(table)`` with the same rows store: the same values (JSON ``null`` for a ``None`` detail,
the Python-side defaults, timestamps in UTC), new ids in the rows' order, duplicates ignored with ``on_conflict``,
too long a value refused rather than cut."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DataError

from gateway.store import pg_bulk
from gateway.store.batch import T_ACK_LINK, T_EVENT, T_MESSAGE, T_SET
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from tests.support.postgres import reset_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_url):
    reset_schema(postgres_url)
    engine = create_db_engine(postgres_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _message(conn, n):
    return conn.execute(sa.insert(T_MESSAGE).returning(T_MESSAGE.c.id), {
        "direction": "inbound", "status": "archived", "sha256": "a" * 64, "size": 1, "idempotency_key": f"pgb-{n}",
    }).scalar_one()


def _events(conn, mid):
    q = sa.select(T_EVENT.c.name, T_EVENT.c.status, T_EVENT.c.actor, T_EVENT.c.at,
                  sa.cast(T_EVENT.c.detail, sa.Text)).where(T_EVENT.c.message_id == mid).order_by(T_EVENT.c.id)
    return [tuple(r) for r in conn.execute(q)]


def test_insert_stores_what_sqlalchemy_stores(pg):
    at = datetime(2026, 12, 7, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    rows = [{"name": "message.received", "status": "received", "detail": {"file": 'a "b",{c}\\', "n": [1, None]},
             "actor": "gateway", "at": at},
            {"name": "message.archived", "status": None, "detail": None, "actor": "operator", "at": at},
            {"name": "mapping.done", "status": None, "detail": {}, "actor": "api", "at": at}]
    with pg.begin() as conn:
        a, b = _message(conn, 1), _message(conn, 2)
        conn.execute(sa.insert(T_EVENT), [dict(r, message_id=a) for r in rows])
        pg_bulk.insert(conn, T_EVENT, [dict(r, message_id=b) for r in rows])
        assert _events(conn, b) == _events(conn, a)
        got = _events(conn, b)
    assert [g[2] for g in got] == ["gateway", "operator", "api"]
    assert got[1][4] == "null"  # a None detail is JSON null, as SQLAlchemy's JSON type stores it
    assert got[0][3] == at and got[0][3].utcoffset() == timedelta(0)


def test_defaults_are_filled_in_per_row(pg):
    before = datetime.now(UTC)
    with pg.begin() as conn:
        m = _message(conn, 3)
        pg_bulk.insert(conn, T_EVENT, [{"message_id": m, "name": "x"}, {"message_id": m, "name": "y"}])
        got = _events(conn, m)
    assert [g[0] for g in got] == ["x", "y"] and all(g[3] >= before for g in got)
    assert [g[2] for g in got] == ["gateway", "gateway"]  # the columns' defaults


def test_returning_gives_ids_in_row_order(pg):
    with pg.begin() as conn:
        m = _message(conn, 4)
        names = [f"set-{i:03d}" for i in range(300)]
        ids = pg_bulk.insert(conn, T_EVENT, [{"message_id": m, "name": n} for n in names], returning=True)
        by_id = dict(conn.execute(sa.select(T_EVENT.c.id, T_EVENT.c.name).where(T_EVENT.c.message_id == m)).all())
    assert [by_id[i] for i in ids] == names


def test_on_conflict_keeps_one_and_update_sets_each_row(pg):
    with pg.begin() as conn:
        a, b = _message(conn, 5), _message(conn, 6)
        link = {"message_id": a, "ack_message_id": b, "kind": "997", "result": "A"}
        pg_bulk.insert(conn, T_ACK_LINK, [link, dict(link)], on_conflict=["ack_message_id", "message_id", "kind"])
        pg_bulk.insert(conn, T_ACK_LINK, [dict(link, result="R")], on_conflict=["ack_message_id", "message_id", "kind"])
        assert conn.execute(sa.select(T_ACK_LINK.c.result).where(T_ACK_LINK.c.message_id == a)).scalars().all() == ["A"]
        until = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
        pg_bulk.update(conn, T_MESSAGE, [
            {"_message_id": a, "status": "acked", "error": None, "lease_until": until},
            {"_message_id": b, "status": "failed", "error": {"e": 1}, "lease_until": None},
        ], key="_message_id")
        got = conn.execute(sa.select(T_MESSAGE.c.id, T_MESSAGE.c.status, sa.cast(T_MESSAGE.c.error, sa.Text),
                                     T_MESSAGE.c.lease_until).where(T_MESSAGE.c.id.in_([a, b]))
                           .order_by(T_MESSAGE.c.id)).all()
    assert [tuple(r) for r in got] == [(a, "acked", "null", until), (b, "failed", '{"e": 1}', None)]


def test_bad_rows_are_refused(pg):
    with pg.connect() as conn, conn.begin():
        m = _message(conn, 7)
        with pytest.raises(KeyError):
            pg_bulk.insert(conn, T_SET, [{"message_id": m, "group_id": 1, "set_id": "856", "nope": 1}])
    with pg.connect() as conn, conn.begin(), pytest.raises(DataError):  # varchar(24): refused, never cut
        pg_bulk.insert(conn, T_EVENT, [{"message_id": 1, "name": "x", "status": "s" * 25}])


def test_execute_parts_writes_every_part_in_one_statement(pg):
    """A step's writes as one statement of data-modifying WITH queries: each part's rows, as its own statement
    would write them (an ack link already recorded kept once, each message updated with its own values)."""
    seen = []
    at = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    with pg.begin() as conn:
        a, b = _message(conn, 1), _message(conn, 2)
        pg_bulk.insert(conn, T_ACK_LINK, [{"message_id": a, "ack_message_id": b, "kind": "997", "result": "A"}])
        sa.event.listen(pg, "before_cursor_execute", lambda *args: seen.append(args[2]))
        links = [{"message_id": a, "ack_message_id": b, "kind": "997", "result": "E"},
                 {"message_id": b, "ack_message_id": a, "kind": "TA1", "result": "A"}]
        parts = [
            pg_bulk.insert_part(conn, T_ACK_LINK, links, on_conflict=["ack_message_id", "message_id", "kind"],
                                prefix="l"),
            pg_bulk.update_part(conn, T_MESSAGE, [{"_id": a, "status": "acked"}, {"_id": b, "status": "failed"}],
                                key="_id", prefix="u0_"),
            pg_bulk.insert_part(conn, T_EVENT, [{"message_id": m, "name": "x", "actor": "gateway", "at": at}
                                                for m in (a, b, a)], prefix="e"),
        ]
        pg_bulk.execute_parts(conn, parts)
        pg_bulk.execute_parts(conn, [])  # nothing to write: no statement
        links = conn.execute(sa.select(T_ACK_LINK.c.message_id, T_ACK_LINK.c.kind, T_ACK_LINK.c.result)
                             .order_by(T_ACK_LINK.c.id)).all()
        statuses = dict(conn.execute(sa.select(T_MESSAGE.c.id, T_MESSAGE.c.status)).all())
        events = conn.execute(sa.select(T_EVENT.c.message_id).order_by(T_EVENT.c.id)).scalars().all()
    assert len([s for s in seen if s.startswith("WITH ")]) == 1 and len(seen) == 4  # the parts, then 3 reads
    assert [tuple(r) for r in links] == [(a, "997", "A"), (b, "TA1", "A")]
    assert statuses == {a: "acked", b: "failed"}
    assert events == [a, b, a]
