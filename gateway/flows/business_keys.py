"""Business keys read straight from X12 segments, so search works before (and besides) the mapping layer.

Pure: segments in, ``(kind, value)`` pairs out. What is read, by transaction set:

=====  ===================================================================================================
940    W05-02 depositor order number (order), W05-03 purchase order number (po)
945    W06-02 depositor order (order), W06-04 shipment id (shipment), W06-06 purchase order (po); W12 lines
       carry items and lots, not references, and are not indexed
856    BSN-02 shipment id (shipment), PRF-01 purchase order (po)
214    B10-01 carrier reference / PRO (pro), B10-02 shipment id (shipment)
any    REF / N9 / L11 with qualifier BM (bol), CN (pro), PO (po), 2I (tracking), CR (order: customer
       reference); MAN with qualifier GM (sscc) or CP / SM / 2I (tracking)
=====  ===================================================================================================

The mapping layer may record more (or better normalised) keys with ``record_business_keys``; both are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.segment import Segment

# REF01 / N901 / L1102 reference qualifiers -> kind
REFERENCE_QUALIFIERS = {"BM": "bol", "CN": "pro", "PO": "po", "2I": "tracking", "CR": "order"}
# MAN01 marks qualifiers -> kind
MARKS_QUALIFIERS = {"GM": "sscc", "CP": "tracking", "SM": "tracking", "2I": "tracking"}

# (segment id, element position) -> kind, for the heading segments of each set
HEADING = {
    ("W05", 2): "order",
    ("W05", 3): "po",
    ("W06", 2): "order",
    ("W06", 4): "shipment",
    ("W06", 6): "po",
    ("BSN", 2): "shipment",
    ("PRF", 1): "po",
    ("B10", 1): "pro",
    ("B10", 2): "shipment",
}
_HEADING_SEGMENTS = frozenset(seg for seg, _pos in HEADING)
_DEFAULT = Delimiters()
_READ = _HEADING_SEGMENTS | {"REF", "N9", "L11", "MAN"}  # the segments keys are read from


def _value(seg: Segment, position: int) -> str:
    value = seg.element(position)
    if seg.delimiters.component:  # a composite: its first component is the value
        value = value.split(seg.delimiters.component, 1)[0]
    return value.strip()


def extract_business_keys(segments: Iterable[Segment]) -> list[tuple[str, str]]:
    """``(kind, value)`` pairs found in ``segments``, in file order, without duplicates."""
    return list(dict.fromkeys(iter_business_keys(segments)))


def iter_business_keys(segments: Iterable[Segment]) -> Iterator[tuple[str, str]]:
    """The pairs of :func:`extract_business_keys` as they are found (streamed: a pair may come more than once)."""
    found: list[tuple[str, str]] = []

    def add(kind: str, value: str) -> None:
        if value:
            found.append((kind, value))

    for seg in segments:
        sid = seg.id
        if sid not in _READ:  # most segments carry no key: one set look-up, no copy of the id
            sid = sid.strip().upper()
            if sid not in _READ:
                continue
        if sid in _HEADING_SEGMENTS:
            for (hid, pos), kind in HEADING.items():
                if hid == sid:
                    add(kind, _value(seg, pos))
        elif sid in ("REF", "N9"):
            ref = REFERENCE_QUALIFIERS.get(_value(seg, 1).upper())
            if ref:
                add(ref, _value(seg, 2) or _value(seg, 3))
        elif sid == "L11":
            ref = REFERENCE_QUALIFIERS.get(_value(seg, 2).upper())
            if ref:
                add(ref, _value(seg, 1))
        elif sid == "MAN":
            marks = MARKS_QUALIFIERS.get(_value(seg, 1).upper())
            if marks:
                add(marks, _value(seg, 2))
                add(marks, _value(seg, 3))
        if found:
            yield from found
            found.clear()


def iter_batch_keys(batches: Iterable[list[Any]]) -> Iterator[tuple[str, str]]:
    """:func:`iter_business_keys` of the segments in reader batches (what :func:`gateway.edi.x12.analyze` hands its
    ``tap``: segment texts and :class:`~gateway.edi.x12.reader.ReaderEvent` items), the same pairs as
    ``iter_business_keys(X12Reader.from_batches().segments(batches))``, with a :class:`Segment` made only for the
    few segments keys are read from (an 856 has about sixty segments and ten carry keys)."""
    return iter_business_keys(_key_segments(batches))


def _key_segments(batches: Iterable[list[Any]]) -> Iterator[Segment]:
    delims = _DEFAULT
    sep = delims.element
    for batch in batches:
        for item in batch:
            if type(item) is str:
                text = item
            else:  # a reader event: new delimiters (ISA, bare ST), a segment that had line breaks in it, a note
                kind = item.kind
                if kind == "isa" or kind == "bare":
                    got = item.header.delimiters if kind == "isa" else item.delimiters
                    if got is not None:
                        delims, sep = got, got.element
                    continue
                if kind != "line_break":
                    continue
                text = item.text
            end = text.find(sep)
            sid = text if end < 0 else text[:end]
            if sid in _READ or sid.strip().upper() in _READ:
                yield Segment(text, delims)
