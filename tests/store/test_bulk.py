"""Bulk inserts bound by the driver on SQLite (gateway/store/bulk.py): the rows stored are the rows SQLAlchemy's own
executemany stores (timestamps, JSON, NULL), conflicts are ignored as the statement says, and a statement with a
default SQLAlchemy computes per row takes SQLAlchemy's path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

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
