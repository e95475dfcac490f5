"""Bulk inserts bound by the driver on SQLite (gateway/store/bulk.py): the rows stored are the rows SQLAlchemy's own
executemany stores (timestamps, JSON, NULL), conflicts are ignored as the statement says, and a statement with a
default SQLAlchemy computes per row takes SQLAlchemy's path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, text

from gateway.store.batch import INSERT_EVENT, T_EVENT, T_OUTPUT
from gateway.store.bulk import insert_rows
from gateway.store.key_index import _insert
from gateway.store.models import Direction, MessageStatus


def _events(mid, tag):
    at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    return [
        {"message_id": mid, "name": f"{tag}.a", "status": "acked", "actor": "gateway", "detail": {"n": 1, "s": "é"},
         "at": at},
        {"message_id": mid, "name": f"{tag}.b", "status": None, "actor": "api:me", "detail": None,
         "at": at.astimezone(timezone(timedelta(hours=3)))},
        {"message_id": mid, "name": f"{tag}.c", "status": None, "actor": "gateway", "detail": [1, "two"],
         "at": at + timedelta(microseconds=7)},
    ]


def _rows(conn, mid, prefix):
    q = select(T_EVENT.c.name, T_EVENT.c.status, T_EVENT.c.actor, T_EVENT.c.detail, T_EVENT.c.at).where(
        T_EVENT.c.message_id == mid, T_EVENT.c.name.like(f"{prefix}.%")).order_by(T_EVENT.c.id)
    return [(n.split(".", 1)[1], *rest) for n, *rest in conn.execute(q)]


def test_rows_stored_as_sqlalchemy_stores_them(store):
    msg, _ = store.create_message(direction=Direction.inbound, status=MessageStatus.archived, sha256="0" * 64,
                                  events=[])
    with store.engine.begin() as conn:
        conn.execute(INSERT_EVENT, _events(msg.id, "core"))
        insert_rows(conn, INSERT_EVENT, _events(msg.id, "bulk"))
    with store.engine.connect() as conn:
        core, bulk = _rows(conn, msg.id, "core"), _rows(conn, msg.id, "bulk")
        raw = conn.execute(text(  # the stored values themselves, not only what comes back
            "SELECT name, detail, at FROM event WHERE message_id = :m ORDER BY id"), {"m": msg.id}).all()
    assert bulk == core and len(core) == 3
    assert core[1][3] is None and core[0][4] == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert [r[1:] for r in raw[3:]] == [r[1:] for r in raw[:3]]  # same text: JSON null, timestamps in UTC


def test_conflicts_ignored_and_defaults_left_to_sqlalchemy(store, archive):
    msg, _ = store.create_message(direction=Direction.inbound, status=MessageStatus.archived, sha256="0" * 64,
                                  events=[])
    keys = [{"message_id": msg.id, "kind": "po", "value": v, "norm": v} for v in ("A1", "B2", "A1")]
    with store.engine.begin() as conn:
        insert_rows(conn, _insert(conn.dialect.name), keys)
        insert_rows(conn, _insert(conn.dialect.name), keys[:2])  # again: kept once
        blob = archive.put_bytes(b"x")
        outs = [{"message_id": msg.id, "kind": "x12", "archive_key": blob.key, "sha256": blob.sha256, "size": 1,
                 "content_type": None, "file_name": f"{n}.edi"} for n in range(2)]  # no created_at: a default
        insert_rows(conn, insert(T_OUTPUT), outs)
    assert sorted(k.value for k in store.business_keys(msg.id) if k.kind == "po") == ["A1", "B2"]
    assert all(o.created_at is not None for o in store.outputs(msg.id))


def test_messages_inserted_in_chunks_come_back_in_order_and_updates_match_sqlalchemy(store, monkeypatch):
    """Multi-row INSERT ... RETURNING split by SQLite's variable limit (made small here): ids in the rows' order,
    every column as SQLAlchemy stores it; the per-message UPDATE bound by the driver writes what
    ``conn.execute(UPDATE_MESSAGE, rows)`` writes."""
    from gateway.store import bulk
    from gateway.store.batch import INSERT_MESSAGES, T_MESSAGE, UPDATE_MESSAGE, insert_returning
    from gateway.store.bulk import update_rows
    from gateway.store.rows import message_columns

    if store.engine.dialect.name != "sqlite":
        pytest.skip("the SQLite path (PostgreSQL binds column arrays: test_pg_bulk.py)")

    def cols(n):
        c = message_columns(dict(direction=Direction.inbound, status=MessageStatus.archived, sha256=f"{n:064d}",
                                 file_name=f"f{n}.edi", idempotency_key=f"chunk:{n}"))
        del c["id"]
        return c

    monkeypatch.setattr(bulk, "MAX_VARIABLES", 3 * len(cols(0)))  # three rows per statement
    rows = [cols(n) for n in range(8)]
    with store.engine.begin() as conn:
        ids = insert_returning(conn, INSERT_MESSAGES, rows)
    assert ids == sorted(ids) and len(set(ids)) == 8
    with store.engine.connect() as conn:
        got = {r.id: r.file_name for r in conn.execute(select(T_MESSAGE.c.id, T_MESSAGE.c.file_name))}
    assert [got[i] for i in ids] == [f"f{n}.edi" for n in range(8)]

    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    change = [{"status": "acked", "reason": None, "error": {"k": n}, "updated_at": now, "_message_id": i}
              for n, i in enumerate(ids)]
    with store.engine.begin() as conn:
        conn.execute(UPDATE_MESSAGE, change[:4])  # SQLAlchemy's own path
        update_rows(conn, UPDATE_MESSAGE, change[4:])  # the driver's
    q = text("SELECT status, reason, error, updated_at FROM message WHERE id IN ({}) ORDER BY id".format(
        ",".join(map(str, ids))))
    with store.engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(q)]  # the stored text itself
    assert {(s, r, at) for s, r, _e, at in stored} == {("acked", None, "2026-12-07 09:00:00.000000")}
    assert [e for _s, _r, e, _at in stored] == [f'{{"k": {n}}}' for n in range(8)]
