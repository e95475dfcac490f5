"""``key_segments``: the business keys of a file read from the reader's batches, with a Segment only for the
segments that may hold one, are the keys of every segment the reader yields (the inbound flow indexes a large
interchange's keys that way)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from x12_corpus import corpus_files, corpus_id

from gateway.edi.x12 import X12Reader
from gateway.edi.x12.reader import iter_batches
from gateway.flows.business_keys import (
    HEADING,
    MARKS_QUALIFIERS,
    REFERENCE_QUALIFIERS,
    iter_business_keys,
    key_segments,
)

FILES = corpus_files("214", "856", "940", "945", "997", "999", "envelope-variants", "invalid")


def _reference(segments: object) -> list[tuple[str, str]]:
    """The rules of gateway.flows.business_keys written plainly (its first version), as the oracle."""
    found = []

    def value(seg: object, position: int) -> str:
        v = seg.element(position)  # type: ignore[attr-defined]
        comp = seg.delimiters.component  # type: ignore[attr-defined]
        return (v.split(comp, 1)[0] if comp else v).strip()

    def add(kind: str, v: str) -> None:
        if v:
            found.append((kind, v))

    for seg in segments:  # type: ignore[attr-defined]
        sid = seg.id.strip().upper()
        if any(hid == sid for hid, _ in HEADING):
            for (hid, pos), kind in HEADING.items():
                if hid == sid:
                    add(kind, value(seg, pos))
        elif sid in ("REF", "N9"):
            ref = REFERENCE_QUALIFIERS.get(value(seg, 1).upper())
            if ref:
                add(ref, value(seg, 2) or value(seg, 3))
        elif sid == "L11":
            ref = REFERENCE_QUALIFIERS.get(value(seg, 2).upper())
            if ref:
                add(ref, value(seg, 1))
        elif sid == "MAN":
            marks = MARKS_QUALIFIERS.get(value(seg, 1).upper())
            if marks:
                add(marks, value(seg, 2))
                add(marks, value(seg, 3))
    return found


def _both(data: bytes) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    full = list(iter_business_keys(X12Reader(data)))
    assert full == _reference(X12Reader(data))
    return list(iter_business_keys(key_segments(iter_batches(data)))), full


@pytest.mark.parametrize("path", FILES, ids=corpus_id)
def test_keys_from_the_key_segments_are_those_of_every_segment(path: Path) -> None:
    fast, full = _both(path.read_bytes())
    assert fast == full


SLOPPY = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *200101*1253*U*00401*000000001*0*P*>~\n"
    "GS*SH*SENDER*RECEIVER*20200101*1253*1*X*004010~\n"
    "ST*856*0001~\n bsn*00*sh-1*20200101~\nprf*po-1~\n REF*BM*bol-1~\nref*cn*pro 1~\nN9*PO*po-2~\n"
    "L11*tr-1*2I~\nMAN*GM*00000123*00000456~\nMAN*cp*TRACK1~\nW05*N*ord-1*po-3~\nB10*pro-2*sh-2~\n"
    "REF*BM\n*bol-2~\nREFX*BM*not-a-key~\nN1*ST*Somewhere~\nSE*14*0001~\nGE*1*1~\nIEA*1*000000001~\n"
    # a second interchange with other delimiters, then bare segments without an envelope
    "ISA|00|          |00|          |ZZ|SENDER         |ZZ|RECEIVER       |200101|1253|U|00401|000000002|0|P|^!"
    "GS|SH|SENDER|RECEIVER|20200101|1253|2|X|004010!ST|856|0002!BSN|00|SH-9|20200101!REF|BM|B^9!SE|4|0002!"
    "GE|1|2!IEA|1|000000002!\n"
    "ST*214*0003~B10*PRO-7*SH-7~SE*3*0003~"
)


def test_keys_of_sloppy_text_lower_case_padding_line_breaks_and_other_delimiters() -> None:
    fast, full = _both(SLOPPY.encode())
    assert fast == full
    assert ("bol", "B") in fast and ("shipment", "SH-9") in fast and ("pro", "PRO-7") in fast  # the test reads keys


def test_keys_of_damaged_text_are_those_of_a_full_read() -> None:
    rnd = random.Random(11)
    base = SLOPPY.encode()
    for _ in range(200):
        data = bytearray(base)
        for _ in range(rnd.randrange(1, 6)):
            data[rnd.randrange(len(data))] = rnd.choice(b" \n~*|!^>aBIMRnw0\x00")
        fast, full = _both(bytes(data))
        assert fast == full
