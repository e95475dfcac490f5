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


def test_messages_created_together_each_get_their_own_id_and_lineage(store):
    from gateway.store.repository import NewMessage

    def tree(n):  # two interchanges of two groups each, every control number telling whose it is
        return [InterchangeRecord("ZZ", "S", "ZZ", "R", f"{n}{i}", groups=[
            GroupRecord("SH", "S", "R", f"{n}{i}{g}", "004010", [SetRecord("856", f"{n}{i}{g}1")]) for g in range(2)])
            for i in range(2)]

    _message(store, "before")  # ids already taken
    new = [NewMessage({"direction": Direction.inbound, "status": MessageStatus.archived, "idempotency_key": f"m{n}",
                       "file_name": f"m{n}.edi", "sha256": f"{n}" * 64},
                      [("message.received", MessageStatus.received, {"n": n})],
                      then=lambda mid, n=n: Batch().lineage(mid, tree(n), replace=False))
           for n in range(1, 6)]
    msgs = store.create_messages(new)
    assert len({m.id for m in msgs}) == 5
    for n, m in enumerate(msgs, start=1):
        row = store.get(m.id)
        assert (row.idempotency_key, row.file_name, row.sha256) == (f"m{n}", f"m{n}.edi", f"{n}" * 64)
        assert (m.idempotency_key, m.status, m.direction) == (f"m{n}", MessageStatus.archived, Direction.inbound)
        assert [e.detail for e in store.events(m.id)] == [{"n": n}]
        lin = store.lineage(m.id)
        assert [i.control_number for i in lin.interchanges] == [f"{n}0", f"{n}1"]
        of = {i.id: i.control_number for i in lin.interchanges}
        assert sorted((of[g.interchange_id], g.control_number) for g in lin.groups) == [
            (f"{n}{i}", f"{n}{i}{g}") for i in range(2) for g in range(2)]
        groups = {g.id: g.control_number for g in lin.groups}
        assert sorted((groups[t.group_id], t.control_number) for t in lin.transactions) == [
            (f"{n}{i}{g}", f"{n}{i}{g}1") for i in range(2) for g in range(2)]
    assert store.find_by_keys(["m1", "m5"]).keys() == {"m1", "m5"}


def test_a_message_built_from_its_columns_is_the_one_the_constructor_builds():
    from gateway.store.models import Message
    from gateway.store.rows import message_columns, message_of

    fields = {"direction": "inbound", "status": "archived", "sha256": "0" * 64, "file_name": "a.edi", "size": 3}
    cols = message_columns(fields)
    assert cols["direction"] is Direction.inbound and cols["status"] is MessageStatus.archived
    assert cols["created_at"] is not None and cols["lease_owner"] is None
    made, built = message_of({**cols, "id": 7}), Message(**{**cols, "id": 7})
    assert made.model_dump() == built.model_dump()
    assert made.model_fields_set == built.model_fields_set
    made.status = MessageStatus.acked  # a later change goes through the usual attribute events
    assert made.status == MessageStatus.acked and made.model_dump()["status"] == MessageStatus.acked
    with pytest.raises(ValueError, match="not a message column: colour"):
        message_columns({**fields, "colour": "red"})
    with pytest.raises(ValueError, match="needs sha256"):
        message_columns({"direction": "inbound", "status": "archived"})


def test_the_messages_given_to_update_are_in_step_whether_new_or_read_back(store):
    from sqlalchemy import inspect

    made = _message(store, "made")  # built from its columns: transient, its __dict__ set directly
    read = store.get(_message(store, "read").id)  # loaded by a session: detached, set through setattr
    assert inspect(made).transient and inspect(read).detached
    store.apply(*[Batch().update(m, event="partner.identified", status=MessageStatus.processing, partner_id="p1",
                                 reason="why") for m in (made, read)])
    for m in (made, read):
        assert (m.status, m.partner_id, m.reason) == (MessageStatus.processing, "p1", "why")
        assert {"status", "partner_id", "reason", "updated_at"} <= m.model_fields_set
        assert m.model_dump(warnings=False)["partner_id"] == "p1"  # (a loaded row holds plain strings)
    assert inspect(read).modified  # its history kept: a session merging it would see the change
