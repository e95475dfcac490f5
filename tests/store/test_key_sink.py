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
