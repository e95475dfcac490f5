"""Business keys feed SQLite's trigram search index in one statement per insert (gateway.store.key_index,
migration 0019): through the batched path and the session path, every new key once, keys already recorded never
again; on both backends a partial number finds the message."""

from datetime import UTC, datetime

import sqlalchemy as sa

from gateway.store.batch import Batch
from gateway.store.models import Direction, MessageStatus
from gateway.store.repository import MessageQuery


def _message(store, n):
    m, _ = store.create_message(direction=Direction.inbound, status=MessageStatus.acked, partner_id="acme",
                                sha256="b" * 64, size=1, file_name=f"k{n}.edi", idempotency_key=f"key-index-{n}",
                                created_at=datetime(2026, 12, 1, tzinfo=UTC),
                                events=[("message.received", MessageStatus.received, None)])
    return m.id


def test_batched_and_session_keys_are_indexed_once(store):
    a, b = _message(store, 1), _message(store, 2)
    store.apply(Batch().keys(a, [("sscc", f"00123456780000{i:06d}") for i in range(3000)]))
    store.apply(Batch().keys(a, [("sscc", "00123456780000000007"), ("bol", "BOLX77123")]))  # one repeat, one new
    store.record_business_keys(b, [("po", "PO-998877"), ("bol", "BOLX77123")])
    store.record_business_keys(b, [("po", "PO-998877")])  # again: nothing new
    assert store.search(MessageQuery(q="0000002999")).items[0].id == a
    assert {m.id for m in store.search(MessageQuery(q="X7712")).items} == {a, b}
    assert [m.id for m in store.search(MessageQuery(q="998877")).items] == [b]
    with store.engine.connect() as conn:
        keys = conn.execute(sa.text("SELECT count(*) FROM business_key")).scalar_one()
        if store.engine.dialect.name == "sqlite":  # every key in the index once (an FTS5 row count)
            indexed = conn.execute(sa.text("SELECT count(*) FROM business_key_fts_docsize")).scalar_one()
            assert indexed == keys
            triggers = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars()
            assert set(triggers) == {"business_key_ad", "business_key_au"}
    assert keys == 3000 + 1 + 2 + 2  # + the two file names


def test_a_changed_value_is_indexed_again_a_filled_in_norm_is_not(store):
    a = _message(store, 3)
    store.apply(Batch().keys(a, [("bol", "BOLQ55501")]))
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE business_key SET norm = 'X' WHERE value = 'BOLQ55501'"))
        conn.execute(sa.text("UPDATE business_key SET value = 'BOLR66602' WHERE value = 'BOLQ55501'"))
    assert [m.id for m in store.search(MessageQuery(q="R6660")).items] == [a]
    assert store.search(MessageQuery(q="Q5550")).items == []
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM business_key WHERE message_id = :m"), {"m": a})
    assert store.search(MessageQuery(q="R6660")).items == []


def test_keys_written_by_two_threads_at_once_are_indexed_once(store):
    """Concurrent writers (the inbound flow's key chunks, the mapping, other messages): no row indexed twice."""
    import threading

    ids = [_message(store, 10 + n) for n in range(4)]

    def write(mid):
        for chunk in range(10):
            store.apply(Batch().keys(mid, [("sscc", f"{mid:04d}{chunk:03d}{i:05d}") for i in range(200)]))

    threads = [threading.Thread(target=write, args=(mid,)) for mid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.engine.connect() as conn:
        keys = conn.execute(sa.text("SELECT count(*) FROM business_key")).scalar_one()
        if store.engine.dialect.name == "sqlite":
            assert conn.execute(sa.text("SELECT count(*) FROM business_key_fts_docsize")).scalar_one() == keys
            integrity = "INSERT INTO business_key_fts(business_key_fts, rank) VALUES ('integrity-check', 1)"
            conn.execute(sa.text(integrity))  # raises when the index and the table disagree
    assert keys == 4 * 10 * 200 + 4
    assert [m.id for m in store.search(MessageQuery(q=f"{ids[2]:04d}00900199")).items] == [ids[2]]


def test_postgresql_checks_no_foreign_key_per_key_row(store):
    """Migration 0021: on PostgreSQL business_key has no foreign key (a trigger per inserted key row); SQLite keeps
    its own. Keys still go only to messages the store holds."""
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "postgresql":
            fks = conn.execute(sa.text("SELECT conname FROM pg_constraint WHERE conrelid = 'business_key'::regclass "
                                       "AND contype = 'f'")).scalars().all()
            assert fks == []
        else:
            fks = conn.execute(sa.text("SELECT \"table\" FROM pragma_foreign_key_list('business_key')")).scalars()
            assert list(fks) == ["message"]
    a = _message(store, 30)
    store.apply(Batch().keys(a, [("bol", "BOLFK0021")]))
    assert [m.id for m in store.search(MessageQuery(q="BOLFK0021")).items] == [a]
