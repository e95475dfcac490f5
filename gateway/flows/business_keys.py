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

The mapping layer may record more (or better normalised) keys with ``record_business_keys``; both are kept, except
the mapped form of an SSCC read here with its ``00`` application identifier (:func:`recorded_forms`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from string import ascii_letters, digits

from gateway.canonical.keys import normalise_sscc
from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.reader import ReaderEvent
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
_HEADING_BY_SEGMENT = {sid: tuple((pos, kind) for (hid, pos), kind in HEADING.items() if hid == sid)
                       for sid in _HEADING_SEGMENTS}
_KEY_SEGMENTS = _HEADING_SEGMENTS | {"REF", "N9", "L11", "MAN"}


# a segment whose text starts with one of these cannot be one of the segments read above (their ids, stripped and
# upper-cased, start with B, P, R, N, L, M or W); whitespace, punctuation and those letters go the long way
_NO_KEY_START = frozenset(ascii_letters + digits) - frozenset("BPRNLMWbprnlmw")


def _value(seg: Segment, position: int) -> str:
    els = seg.elements
    if position >= len(els):
        return ""
    value = els[position]
    component = seg.delimiters.component
    if component:  # a composite: its first component is the value
        value = value.split(component, 1)[0]
    return value.strip()


def extract_business_keys(segments: Iterable[Segment]) -> list[tuple[str, str]]:
    """``(kind, value)`` pairs found in ``segments``, in file order, without duplicates."""
    return list(dict.fromkeys(iter_business_keys(segments)))


def iter_business_keys(segments: Iterable[Segment]) -> Iterator[tuple[str, str]]:
    """The pairs of :func:`extract_business_keys` as they are found (streamed: a pair may come more than once)."""
    heading = _HEADING_BY_SEGMENT
    references = REFERENCE_QUALIFIERS
    marks = MARKS_QUALIFIERS
    for seg in segments:
        sid = seg.id
        if sid not in _KEY_SEGMENTS:
            sid = sid.strip().upper()
            if sid not in _KEY_SEGMENTS:
                continue
        if sid in heading:
            for pos, kind in heading[sid]:
                value = _value(seg, pos)
                if value:
                    yield kind, value
        elif sid == "REF" or sid == "N9":
            ref = references.get(_value(seg, 1).upper())
            if ref:
                value = _value(seg, 2) or _value(seg, 3)
                if value:
                    yield ref, value
        elif sid == "L11":
            ref = references.get(_value(seg, 2).upper())
            if ref:
                value = _value(seg, 1)
                if value:
                    yield ref, value
        else:  # MAN
            mark = marks.get(_value(seg, 1).upper())
            if mark:
                value = _value(seg, 2)
                if value:
                    yield mark, value
                value = _value(seg, 3)
                if value:
                    yield mark, value


def recorded_forms(keys: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    """``keys`` as recorded (stripped pairs of :func:`gateway.store.records.normalise_keys`), with the forms they
    stand for: an SSCC read from MAN*GM with its ``00`` application identifier (20 digits) also stands for its 18
    digits, the canonical record's form (:func:`gateway.canonical.keys.normalise_sscc`), which the mapping step then
    does not record a second time. Search finds the message by either form
    (:func:`gateway.store.search.key_forms`: the 18 digits also match the 20 exactly), and both have the same
    join form (:func:`gateway.business.keys.normalise` drops the leading zeros)."""
    out = set(keys)
    for kind, value in list(out):
        if kind == "sscc":
            bare = normalise_sscc(value)
            if bare is not None and bare != value:
                out.add((kind, bare))
    return frozenset(out)


def key_segments(batches: Iterable[list[str | ReaderEvent]]) -> Iterator[Segment]:
    """The segments of reader batches (:func:`gateway.edi.x12.reader.iter_batches`) that may hold a key, for
    :func:`iter_business_keys`: the same keys as from every segment the reader yields
    (:meth:`~gateway.edi.x12.reader.X12Reader.segments`), without a :class:`Segment` for each of the others (the
    large majority: a 10 MB interchange has 400,000 segments and 40,000 that are read here)."""
    reading = KeySegments()
    for batch in batches:
        yield from reading.of(batch)


class KeySegments:
    """:func:`key_segments` one batch at a time, in the reader's order (the delimiters an ISA sets hold for the
    batches after it): for a caller handed the batches one by one (an analysis's ``tap``)."""

    def __init__(self) -> None:
        self.delims = Delimiters()

    def of(self, batch: list[str | ReaderEvent]) -> Iterator[Segment]:
        skip = _NO_KEY_START
        read = _KEY_SEGMENTS
        delims = self.delims
        sep = delims.element
        for item in batch:
            if type(item) is str:
                if item[:1] in skip:
                    continue
                end = item.find(sep)
                sid = item if end < 0 else item[:end]
                if sid in read or sid.strip().upper() in read:  # most of the rest carry no key either (N3, LIN...)
                    yield Segment(item, delims)
                continue
            assert isinstance(item, ReaderEvent)
            if item.kind == "isa":  # the ISA segment itself holds no key
                header = item.header
                assert header is not None
                if header.delimiters is not None:
                    delims = self.delims = header.delimiters
                    sep = delims.element
            elif item.kind == "bare":
                assert item.delimiters is not None
                delims = self.delims = item.delimiters
                sep = delims.element
            elif item.kind == "line_break":
                yield Segment(item.text, delims)
