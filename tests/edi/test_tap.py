"""``analyze(..., tap=...)``: the reader batches the analysis saw give the same segments as reading the source
again (the inbound flow takes a small file's business keys from them instead of a second read)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from x12_corpus import corpus_files, corpus_id

from gateway.edi.x12 import X12Reader, analyze
from gateway.flows.business_keys import extract_business_keys

FILES = corpus_files("214", "856", "940", "945", "997", "999", "envelope-variants", "invalid")


def _seg(seg: object) -> tuple[object, ...]:
    return (seg.text, seg.position, seg.delimiters, seg.elements)  # type: ignore[attr-defined]


def _issues(analysis: object) -> list[tuple[object, ...]]:
    return [(i.code, i.severity, i.message, i.location) for i in analysis.issues]  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", FILES, ids=corpus_id)
def test_tapped_batches_give_the_segments_and_keys_of_a_second_read(path: Path) -> None:
    data = path.read_bytes()
    kept: list[list[object]] = []
    tapped = analyze(data, tolerant=True, file=path.name, tap=kept.append)
    reader = X12Reader.from_batches()
    again = X12Reader(data)
    assert [_seg(s) for s in reader.segments(kept)] == [_seg(s) for s in again]
    assert reader.headers == again.headers and reader.notes == again.notes
    assert (extract_business_keys(X12Reader.from_batches().segments(kept))
            == extract_business_keys(X12Reader(data)))
    # the tap changes nothing in the analysis
    plain = analyze(data, tolerant=True, file=path.name)
    assert _issues(tapped) == _issues(plain)
    assert (tapped.error_count, tapped.segment_count, len(tapped.interchanges)) == (
        plain.error_count, plain.segment_count, len(plain.interchanges))


def test_tap_on_bytes_that_are_not_x12_sees_what_a_second_read_sees() -> None:
    data = random.Random(7).randbytes(20_000) + b"ISA*00*garbage~ST*856*1~BSN*00*X~"
    kept: list[list[object]] = []
    analyze(data, tolerant=True, tap=kept.append)
    assert [_seg(s) for s in X12Reader.from_batches().segments(kept)] == [_seg(s) for s in X12Reader(data)]
