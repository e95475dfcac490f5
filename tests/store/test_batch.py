"""The batched store path (gateway/store/batch.py): one transaction per apply, bulk rows, bounded key streams."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.canonical.jsonio import DocumentsWriter, documents_json
from gateway.errors import MappingError
from gateway.flows.batching import KeySink
from gateway.mapping import to_canonical
from gateway.store.batch import Batch
from gateway.store.models import Direction, MessageStatus
from gateway.store.repository import GroupRecord, InterchangeRecord, SetRecord


def _message(store, key="k1"):
    msg, created = store.create_message(
        direction=Direction.inbound, status=MessageStatus.archived, idempotency_key=key, file_name=f"{key}.edi",
        sha256="0" * 64, events=[("message.received", MessageStatus.received, None)],
    )
    assert created
    return msg


def test_apply_writes_everything_in_one_transaction_and_syncs_the_message(store, archive):
    msg = _message(store)
    blob = archive.put_bytes(b'{"documents": []}')
    tree = [InterchangeRecord("ZZ", "S", "ZZ", "R", "000000001", groups=[
        GroupRecord("SH", "S", "R", "1", "004010", [SetRecord("856", f"{n:04d}") for n in range(1, 12)])])]
    batch = (Batch().lineage(msg.id, tree, replace=False).keys(msg.id, [("po", "PO1"), ("po", "PO1"), ("bol", "B")])
             .output(msg.id, kind="canonical", blob=blob, file_name="x.json")
             .update(msg, event="envelope.read", status=MessageStatus.processing, set_ids="856")
             .event(msg.id, "mapping.done", detail={"records": 11}))
    store.apply(batch)
    assert msg.status == MessageStatus.processing and msg.set_ids == "856"  # the object is in step
    fresh = store.get(msg.id)
    assert fresh.status == MessageStatus.processing and fresh.set_ids == "856"
    assert [e.name for e in store.events(msg.id)] == ["message.received", "envelope.read", "mapping.done"]
    assert sorted((k.kind, k.value) for k in store.business_keys(msg.id)) == [
        ("bol", "B"), ("file", "k1.edi"), ("po", "PO1")]
    assert len(store.lineage(msg.id).transactions) == 11
    store.apply(Batch().output(msg.id, kind="canonical", blob=blob))  # recorded once
    assert len(store.outputs(msg.id)) == 1


def test_a_failing_write_rolls_the_whole_batch_back(store):
    msg = _message(store)

    def boom(conn):
        conn.execute(text("SELECT * FROM no_such_table"))

    batch = Batch().update(msg, event="message.acked", status=MessageStatus.acked).keys(msg.id, [("po", "X")])
    with pytest.raises(Exception):  # noqa: B017 - the database's own error, whatever the backend calls it
        store.apply(batch.execute(boom))
    assert store.get(msg.id).status == MessageStatus.archived
    assert msg.status == MessageStatus.archived  # not synced: nothing was committed
    assert [e.name for e in store.events(msg.id)] == ["message.received"]
    assert [k.kind for k in store.business_keys(msg.id)] == ["file"]


def test_group_commit_of_several_messages(store):
    msgs = [_message(store, f"g{i}") for i in range(3)]
    store.apply(*[Batch().update(m, event="message.acked", status=MessageStatus.acked) for m in msgs])
    assert {store.get(m.id).status for m in msgs} == {MessageStatus.acked}


def test_key_sink_streams_large_key_sets_in_chunks_without_duplicates(store):
    msg = _message(store)
    batch = Batch()
    sink = KeySink(store, msg.id, batch, chunk=7)
    keys = [("po", f"PO{n % 40}") for n in range(200)]  # 40 distinct, repeated
    sink.add(keys)
    assert sink.flushed >= 1  # written ahead, bounded
    sink.close()
    store.apply(batch)
    values = sorted(k.value for k in store.business_keys(msg.id) if k.kind == "po")
    assert values == sorted({v for _, v in keys})


SAMPLES = sorted((Path(__file__).resolve().parents[2] / "samples" / "x12").glob("*/*.edi"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_streamed_canonical_json_is_byte_identical_to_the_whole_document(path):
    items = [*to_canonical(path.read_bytes(), file=path.name), MappingError('a "quoted"\nmessage')]
    writer = DocumentsWriter()
    streamed = b"".join(writer.add(i) for i in items) + writer.close()
    assert streamed == documents_json(items).encode()
    assert DocumentsWriter().close() == documents_json([]).encode()
