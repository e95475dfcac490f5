"""The mapping step of a batch maps a small file from the reader batches its analysis read from the archive
(``reader_batches``) instead of reading and splitting the archived bytes again: the same canonical JSON, keys, events
and hand-off entries, for the shipped samples, the corpus, generated files, bare sets, files with mapping errors and
sets no mapping reads; with and without the envelope step's keys given as ``written``; and several files in one
pinned batch (the mappings looked up once) give what each gives alone."""

from __future__ import annotations

import sys
from pathlib import Path

from gateway.edi.x12 import analyze
from gateway.flows.batching import KeySink
from gateway.flows.business_keys import iter_business_keys, key_segments
from gateway.flows.mapping_step import MappingStep
from gateway.partners.loader import load_partner_file
from gateway.store.archive import Archive
from gateway.store.batch import Batch
from gateway.store.models import Direction, MessageStatus
from gateway.store.repository import Store

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from e2e import Templates  # noqa: E402
from mapping import make_214, make_856, make_940, make_945  # noqa: E402

BARE = b"ST*856*0001~BSN*00*SH-BARE*20200101~HL*1**S~REF*BM*BOL-BARE~HL*2*1*O~PRF*PO-BARE~SE*7*0001~"


def _sources(corpus: Path) -> list[tuple[str, bytes]]:
    paths = sorted((REPO / "samples").glob("x12/*/*.edi")) + sorted(corpus.rglob("*.edi"))
    t = Templates()
    bodies = [t.body_856(n) for n in range(1, 6)]
    bodies[2] = [s if not s.startswith("BSN*") else "BSN*00**20090921*0801" for s in bodies[2]]  # a mapping error
    broken = t.interchange("856", 1, bodies).replace(b"ST*856*", b"ST*999*0001~BGN*00*X~SE*3*0001~ST*856*", 1)
    made = [make_856(3), make_940(3), make_945(3), make_214(3)]
    return [(p.name, p.read_bytes()) for p in paths] + [(f"gen-{i}", d) for i, d in enumerate(made)] + [
        ("broken", broken), ("bare", BARE)]


def _prepare(store: Store, archive: Archive, key: str, name: str, data: bytes):
    """Archive ``data`` and record its envelope keys as the inbound flow does; -> (message, keys, reader batches)."""
    blob = archive.put_bytes(data)
    msg, _ = store.create_message(direction=Direction.inbound, status=MessageStatus.acked, idempotency_key=key,
                                  file_name=f"{name}.edi", sha256=blob.sha256, archive_key=blob.key, size=blob.size,
                                  events=[])
    kept: list = []
    with archive.open(blob.key) as src:
        analysis = analyze(src, tolerant=True, tap=kept.append)
    envelope = Batch()
    if analysis.interchanges:
        sink = KeySink(store, msg.id, envelope)
        sink.add(iter_business_keys(key_segments(kept)))
        sink.close()
    store.apply(envelope)
    return msg, frozenset((r["kind"], r["value"]) for r in envelope.key_rows), kept


def _outcome(store: Store, archive: Archive, batch: Batch, msg, kept: dict):
    store.apply(batch)
    outputs = store.outputs(msg.id)
    return ([archive.read_bytes(o.archive_key) for o in outputs], [(e.name, e.detail) for e in store.events(msg.id)],
            sorted((k.kind, k.value, k.norm) for k in store.business_keys(msg.id)), sorted(r["value"] for r in
                                                                                         batch.key_rows),
            kept.get(msg.id))


def test_reader_batches_map_as_the_archive_does(tmp_path, store, corpus):
    archive = Archive(tmp_path / "archive")
    step = MappingStep(store=store, archive=archive, mappings_root=REPO / "mappings", overrides_dir=None)
    partner = load_partner_file(REPO / "partners" / "harbor-3pl.yaml")
    checked = 0
    for name, data in _sources(corpus):
        for written in (False, True):
            results = []
            for use in (False, True):
                msg, keys, batches = _prepare(store, archive, f"{name}-{written}-{use}", name, data)
                kept: dict = {}
                batch = step.batch(msg, partner, keep=kept, written=keys if written else frozenset(),
                                   reader_batches=batches if use else None)
                results.append(_outcome(store, archive, batch, msg, kept))
            assert results[0] == results[1], name
            checked += 1
    assert checked >= 40


def test_a_pinned_batch_maps_each_file_as_alone(tmp_path, store):
    archive = Archive(tmp_path / "archive")
    step = MappingStep(store=store, archive=archive, mappings_root=REPO / "mappings", overrides_dir=None)
    partner = load_partner_file(REPO / "partners" / "harbor-3pl.yaml")
    files = [make_856(2), make_940(2), BARE, make_856(1), make_214(2)]
    alone = []
    for i, data in enumerate(files):
        msg, keys, batches = _prepare(store, archive, f"alone-{i}", f"f{i}", data)
        alone.append(_outcome(store, archive, step.batch(msg, partner, keep={}, written=keys), msg, {})[:2])
    together = []
    with step.pinned():
        prepared = [_prepare(store, archive, f"pinned-{i}", f"f{i}", data) for i, data in enumerate(files)]
        for msg, keys, batches in prepared:
            batch = step.batch(msg, partner, keep={}, written=keys, reader_batches=batches)
            together.append(_outcome(store, archive, batch, msg, {})[:2])
    assert [(out, [(n, d) for n, d in ev]) for out, ev in alone] == together
    # the batches are what is mapped: another file's give that file's records
    msg, keys, _batches = _prepare(store, archive, "other", "f0", files[0])
    other = step.batch(msg, partner, keep={}, written=keys, reader_batches=prepared[1][2])
    assert _outcome(store, archive, other, msg, {})[0] == together[1][0]
