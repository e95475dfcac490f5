"""The keys a large file's reading writes ahead of its step (gateway.flows.batching.KeySink chunks), on both
backends: a refused reading deletes those it added and only those (records.forget_unsettled_keys: the keys above
the mark records.mark_key_reading noted), the keys of an earlier, settled reading stay; the mark of a reading a
crash interrupted is kept by the next one, whose refusal then deletes both readings' keys."""

from __future__ import annotations

from gateway.flows.batching import KeySink
from gateway.store.batch import Batch
from gateway.store.models import Direction, MessageStatus

EARLIER = [("po", "PO-EARLIER"), ("bol", "BOL-SHARED")]  # a settled reading's; the next reading has the bol too


def _message(store, key="k1"):
    msg, _ = store.create_message(
        direction=Direction.inbound, status=MessageStatus.acked, idempotency_key=key, file_name=f"{key}.edi",
        sha256="0" * 64, events=[("message.received", MessageStatus.received, None)],
    )
    return msg


def _reading(store, msg, keys, *, settle: bool = False) -> KeySink:
    """Keys given to a sink as an analysis would (chunks of 50 written ahead of the step, the mark before the
    first); ``settle``: the step is written with them (the rest of the keys, the mark cleared)."""
    batch = Batch()
    sink = KeySink(store, msg.id, batch, chunk=50, before_first_chunk=lambda: store.mark_key_reading(msg.id))
    sink.add(keys)
    if settle:
        sink.close()
        store.apply(batch.update(msg.id, unsettled_keys_after=None))
    else:
        sink.drain()  # refused (or a crash): the pending keys are never written
    return sink


def _keys(store, msg) -> set[tuple[str, str]]:
    return {(k.kind, k.value) for k in store.business_keys(msg.id)}


def test_a_refused_reading_deletes_the_keys_it_added_and_keeps_the_earlier_ones(store):
    msg = _message(store)
    store.record_business_keys(msg.id, EARLIER)
    before = _keys(store, msg)
    new = [("sscc", f"{n:020d}") for n in range(220)]
    sink = _reading(store, msg, [EARLIER[1], *new])
    assert sink.flushed == 4  # 200 of the 221 written ahead of the step; the shared bol was recorded already
    assert len(_keys(store, msg)) == len(before) + 199
    assert store.get(msg.id).unsettled_keys_after is not None
    assert store.forget_unsettled_keys(msg.id) == 199
    assert _keys(store, msg) == before == set(EARLIER) | {("file", "k1.edi")}
    assert store.get(msg.id).unsettled_keys_after is None
    assert store.forget_unsettled_keys(msg.id) == 0  # no mark: nothing to delete


def test_a_refused_first_reading_leaves_the_file_key_only(store):
    msg = _message(store)
    _reading(store, msg, [("sscc", f"{n:020d}") for n in range(120)])
    assert store.forget_unsettled_keys(msg.id) == 100
    assert _keys(store, msg) == {("file", "k1.edi")}


def test_the_next_reading_keeps_the_mark_of_one_a_crash_interrupted(store):
    msg = _message(store)
    store.record_business_keys(msg.id, EARLIER)
    _reading(store, msg, [("sscc", f"{n:020d}") for n in range(100)])  # a crash: no forget, the mark stays
    mark = store.get(msg.id).unsettled_keys_after
    _reading(store, msg, [("sscc", f"{n:020d}") for n in range(50, 200)])  # read again after the restart
    assert store.get(msg.id).unsettled_keys_after == mark
    assert store.forget_unsettled_keys(msg.id) == 200  # both readings' keys, refused
    assert _keys(store, msg) == set(EARLIER) | {("file", "k1.edi")}


def test_a_settled_reading_keeps_its_keys_and_clears_the_mark(store):
    msg = _message(store)
    _reading(store, msg, [("sscc", f"{n:020d}") for n in range(100)])  # a crash
    keys = [("sscc", f"{n:020d}") for n in range(120)]
    _reading(store, msg, keys, settle=True)  # read again, usable
    assert store.get(msg.id).unsettled_keys_after is None
    assert store.forget_unsettled_keys(msg.id) == 0  # a later refusal has nothing of this reading to delete
    assert _keys(store, msg) == set(keys) | {("file", "k1.edi")}
