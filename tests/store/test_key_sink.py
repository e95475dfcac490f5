"""KeySink on both backends: full chunks written by a writer thread while the caller goes on, every chunk
committed before close() returns, and a write that failed raised in the caller's thread."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import DBAPIError

from gateway.flows.batching import KeySink
from gateway.store.batch import Batch
from gateway.store.models import Direction, MessageStatus


def _message(store, key="k1"):
    msg, _ = store.create_message(
        direction=Direction.inbound, status=MessageStatus.archived, idempotency_key=key, file_name=f"{key}.edi",
        sha256="0" * 64, events=[("message.received", MessageStatus.received, None)],
    )
    return msg


def test_chunks_are_written_by_a_writer_thread_and_all_committed_at_close(store):
    msg = _message(store)
    writers: set[str] = set()
    apply = store.apply

    def spy(*batches):
        writers.add(threading.current_thread().name)
        apply(*batches)

    store.apply = spy
    batch = Batch()
    sink = KeySink(store, msg.id, batch, chunk=50, background=True)
    keys = [("sscc", f"{n:020d}") for n in range(1000)] + [("po", "PO1")] * 3
    sink.add(keys)
    sink.close()
    assert sink.flushed == 20 and "key-sink" in writers  # 1,000 distinct keys: 20 chunks, in the writer thread
    assert len(batch.key_rows) == 1  # the last key rides with the step
    store.apply = apply
    store.apply(batch)
    got = {(k.kind, k.value) for k in store.business_keys(msg.id)}
    assert got == set(keys) | {("file", "k1.edi")}


# refused by both stores: SQLite's foreign key (no such message), PostgreSQL (no foreign key on business_key there,
# migration 0021) the NUL character, which its text cannot hold
BAD = "\x00X"


def test_a_failed_chunk_write_is_raised_by_close_in_the_callers_thread(store):
    sink = KeySink(store, 10**9, Batch(), chunk=10, background=True)
    sink.add([("po", f"PO{n}{BAD}") for n in range(10)])
    with pytest.raises(DBAPIError):
        sink.close()
    sink.drain()  # nothing left to raise


def test_a_failed_chunk_write_is_raised_by_the_next_full_chunk(store):
    sink = KeySink(store, 10**9, Batch(), chunk=10, background=True)
    with pytest.raises(DBAPIError):
        sink.add([("po", f"PO{n}{BAD}") for n in range(25)])


def test_in_line_writes_when_not_in_background(store):
    msg = _message(store)
    sink = KeySink(store, msg.id, Batch(), chunk=10, background=False)
    sink.add([("po", f"PO{n}") for n in range(10)])
    assert sink.flushed == 1 and len(store.business_keys(msg.id)) == 11  # written before add() returned


def test_background_by_default_on_postgresql_only(store):
    assert KeySink(store, 1, Batch()).background is (store.engine.dialect.name == "postgresql")


def _statements(store):
    """The INSERT statements into business_key the store's engine runs from now on (SQLAlchemy's event hook)."""
    from sqlalchemy import event

    seen: list[str] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        if "INTO business_key (" in statement:
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", hook)
    return seen


def test_keys_new_to_the_sink_go_by_a_plain_insert_on_postgresql(store):
    msg = _message(store)
    seen = _statements(store)
    batch = Batch()
    sink = KeySink(store, msg.id, batch, chunk=50, background=True)
    keys = [k for n in range(200) for k in (("sscc", f"{n:020d}"), ("pro", "PRO1"))]  # PRO1 in every chunk
    sink.add(keys)
    sink.close()
    store.apply(batch)
    got = sorted((k.kind, k.value) for k in store.business_keys(msg.id))
    assert got == sorted(set(keys) | {("file", "k1.edi")})  # each once
    conflict = [s for s in seen if "ON CONFLICT" in s]
    assert sink.flushed == 4  # 201 distinct keys, PRO1 in each chunk again: 4 chunks of 50, the rest with the step
    if store.engine.dialect.name == "postgresql":  # PRO1 again in chunks 2..4, then the step's own rows
        assert len(seen) - len(conflict) == 4 and len(conflict) == 3 + 1
    else:
        assert len(conflict) == len(seen)


def test_a_sink_writing_keys_recorded_already_gives_the_same_rows_and_stops_trying(store):
    msg = _message(store)
    keys = [("sscc", f"{n:020d}") for n in range(300)]
    first = Batch()
    sink = KeySink(store, msg.id, first, chunk=50, background=True)
    sink.add(keys)
    sink.close()
    store.apply(first)
    seen = _statements(store)
    again = Batch()
    sink = KeySink(store, msg.id, again, chunk=50, background=True)
    sink.add([*keys[:100], ("po", "PO-NEW"), *keys[100:]])  # the file read again, one key more
    sink.close()
    store.apply(again)
    got = sorted((k.kind, k.value) for k in store.business_keys(msg.id))
    assert got == sorted(set(keys) | {("po", "PO-NEW"), ("file", "k1.edi")})
    if store.engine.dialect.name == "postgresql":  # one plain try (rolled back), then ON CONFLICT throughout
        assert [("ON CONFLICT" in s) for s in seen] == [False] + [True] * 7
