"""``key_segments``: the business keys of a small file straight from the reader batches its analysis kept give
the same pairs, in the same order, as reading them from the segments of a second read (the inbound flow's path)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from x12_corpus import corpus_files, corpus_id

from gateway.edi.x12 import X12Reader, analyze
from gateway.flows.business_keys import iter_business_keys, key_segments

FILES = corpus_files("214", "856", "940", "945", "997", "999", "envelope-variants", "invalid")


@pytest.mark.parametrize("path", FILES, ids=corpus_id)
def test_batch_keys_are_the_keys_of_the_segments(path: Path) -> None:
    data = path.read_bytes()
    kept: list[list[object]] = []
    analyze(data, tolerant=True, file=path.name, tap=kept.append)
    assert list(iter_business_keys(key_segments(kept))) == list(iter_business_keys(X12Reader(data)))


def test_batch_keys_follow_delimiters_line_breaks_and_garbage() -> None:
    sample = Path(__file__).resolve().parents[2] / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    data = (random.Random(3).randbytes(3000) + sample.read_bytes()
            + sample.read_bytes().replace(b"*", b"|").replace(b"REF|BM", b"REF|BM\n"))
    kept: list[list[object]] = []
    analyze(data, tolerant=True, tap=kept.append)
    got = list(iter_business_keys(key_segments(kept)))
    assert got == list(iter_business_keys(X12Reader(data)))
    assert ("bol", "000001") in got
