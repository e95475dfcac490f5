"""The mapping step does not write again the business keys the envelope step indexed from the same transaction
set's segments: the same rows result (for the shipped samples, the corpus, generated files and bare sets without
an ISA, whose keys the envelope step does not index), the count on ``mapping.done`` is unchanged, and a 856's
keys also read from X12 (all but the SSCCs normalised to 18 digits, for bench/e2e.py's 856) cost no insert."""

from __future__ import annotations

import sys
from pathlib import Path

from gateway.canonical import Package, Reference, Shipment
from gateway.canonical.keys import KINDS
from gateway.edi.x12.reader import iter_batches
from gateway.flows.batching import KeySink
from gateway.flows.business_keys import iter_business_keys, key_segments
from gateway.flows.mapping_step import _Tally
from gateway.mapping import business_keys, iter_canonical, iter_mapped
from gateway.store.batch import Batch
from gateway.store.models import Direction, MessageStatus
from gateway.store.records import MAX_KEY_LENGTH, normalise_keys

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from e2e import Templates  # noqa: E402
from mapping import make_856  # noqa: E402

BARE = (b"ST*856*0001~BSN*00*SH-BARE*20200101~HL*1**S~REF*BM*BOL-BARE~HL*2*1*O~PRF*PO-BARE~"
        b"SE*7*0001~")


def _message(store, key):
    msg, _ = store.create_message(
        direction=Direction.inbound, status=MessageStatus.archived, idempotency_key=key, file_name=f"{key}.edi",
        sha256="0" * 64, events=[])
    return msg


class _Counting:
    """The store, counting the key rows each apply writes."""

    def __init__(self, store):
        self.store, self.engine, self.rows = store, store.engine, 0

    def apply(self, *batches):
        self.rows += sum(len(b.key_rows) for b in batches)
        self.store.apply(*batches)


def _keys(store, mid):
    return sorted((k.kind, k.value, k.norm) for k in store.business_keys(mid) if k.kind != "file")


def _run(store, data, *, skip):
    """Envelope keys, then the mapping's; -> (rows in the store, key rows the mapping wrote, tally.keys.count)."""
    msg = _message(store, f"m{id(data)}-{skip}")
    envelope = Batch()
    sink = KeySink(store, msg.id, envelope, chunk=40)
    sink.add(iter_business_keys(key_segments(iter_batches(data))))
    sink.close()
    store.apply(envelope)
    counting = _Counting(store)
    step = Batch()
    tally = _Tally(KeySink(counting, msg.id, step, chunk=40))
    items = tally.sets(iter_mapped(data)) if skip else iter_canonical(data)
    for _chunk in tally.documents(items):
        pass
    tally.keys.close()
    counting.apply(step)
    return _keys(store, msg.id), counting.rows, tally.keys.count


def _sources(corpus: Path) -> list[tuple[str, bytes]]:
    paths = sorted((REPO / "samples").glob("x12/*/*.edi")) + sorted(corpus.rglob("*.edi"))
    t = Templates()  # the interchange bench/e2e.py's "large" workload repeats (harbor-3pl-crossdock.edi's 856)
    e2e = t.interchange("856", 1, [t.body_856(n) for n in range(1, 31)])
    return [(p.name, p.read_bytes()) for p in paths] + [("gen-856", make_856(120)), ("e2e", e2e), ("bare", BARE)]


def test_the_same_rows_with_fewer_inserts(store, corpus):
    fewer = 0
    for name, data in _sources(corpus):
        try:
            list(iter_canonical(data))
        except Exception:  # a file the engine cannot read at all: the mapping step fails it
            continue
        rows, written, count = _run(store, data, skip=True)
        rows_before, written_before, count_before = _run(store, data, skip=False)
        assert (rows, count) == (rows_before, count_before), name
        assert written <= written_before, name
        fewer += written < written_before
        if name == "e2e":  # of each set's keys, only its 5 SSCCs are new (the canonical form has 18 digits, the
            assert written == 30 * 5 < written_before  # MAN segments 20): the rest was indexed
        if name == "bare":
            assert written == written_before > 0  # no ISA: the envelope step indexed nothing of it
    assert fewer > 5


def test_keys_the_caller_wrote_are_left_out_for_every_kind(store):
    """``written`` keys are left out by ``_Tally.known_of`` alone (the step has no second pass over its key rows):
    for every kind a record's keys have, a value cut to the store's length and a value sent with spaces."""
    record = Shipment(shipment_id="SH-1", order_number="ORD-1", purchase_order="P" * 200, bill_of_lading=" BOL-1 ",
                      pro_number="PRO-1", references=[Reference(qualifier="2I", value="TRK-1")],
                      packages=[Package(sscc="00" + "1" * 18, tracking_number="TRK-2")])
    keys = business_keys(record)
    assert {kind for kind, _ in keys} == set(KINDS)  # every kind the mapping gives
    rows = normalise_keys(keys)  # as the envelope step's rows hold them
    assert ("po", "P" * 200) in keys and ("po", "P" * MAX_KEY_LENGTH) in rows

    def mapping_rows(written):
        msg = _message(store, f"every-kind-{len(written)}")
        step = Batch()
        tally = _Tally(KeySink(store, msg.id, step), written=written)
        for _chunk in tally.documents([record]):
            pass
        tally.keys.close()
        assert tally.keys.count == len(keys)  # counted all the same
        return [(r["kind"], r["value"]) for r in step.key_rows]

    assert mapping_rows(frozenset(rows)) == []
    for left in rows:  # a key the caller did not write is written
        assert mapping_rows(frozenset(rows) - {left}) == [left]
