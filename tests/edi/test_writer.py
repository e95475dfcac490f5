"""The X12 writer: partner options, generated envelopes, and read -> write -> read on every corpus file."""

from __future__ import annotations

from pathlib import Path

import pytest
from x12_corpus import corpus_files, corpus_id

from gateway.edi.x12 import (
    Delimiters,
    Envelope,
    GroupSpec,
    Segment,
    WriterOptions,
    X12Writer,
    analyze,
    read_segments,
    write_interchange,
    write_segments,
)

ALL = corpus_files("856", "940", "945", "214", "997", "999", "envelope-variants", "invalid")


def _body() -> list[list[str | list[str]]]:
    return [["W05", "N", "538686", "", "001001"], ["N1", "ST", "Acme Store", "9", "0000000000001"],
            ["LX", "1"], ["W01", "12", "CA", "", "VN", "SKU-1"], ["MEA", "WT", "G", "12.5", ["LB", "", "X"]]]


def _envelope(control: int = 42, version: str = "00401") -> Envelope:
    return Envelope("ZZ", "WAREHOUSE", "ZZ", "RETAILER", "20260401", "0930", control, version=version,
                    usage="T", ack_requested=True)


def test_partner_options_newline_suffix_and_uppercase() -> None:
    d = Delimiters("*", ">", None, "~", "\n")
    w = X12Writer(WriterOptions(delimiters=d, uppercase=True))
    w.segment(["N1", "ST", "Acme Store"])
    w.segment(Segment("N3*12 Main st", d))
    assert w.getvalue() == b"N1*ST*ACME STORE~\nN3*12 MAIN ST~\n"


def test_trailing_empty_elements_dropped_and_composites_joined() -> None:
    w = X12Writer(WriterOptions(delimiters=Delimiters("|", "^", None, "\u2026", "\r\n")))
    w.segment(["MEA", "WT", "G", "12.5", ["LB", "", ""], "", ""])
    assert w.text() == "MEA|WT|G|12.5|LB\u2026\r\n"


def test_text_only_segments_are_written_as_the_general_path_writes_them() -> None:
    """Lists of text take a shortcut (one join); tuples take the general path: the same text either way."""
    segments = [["N1", "ST", "", ""], ["X"], ["", ""], ["", "A", ""], ["REF", "BM", "1", ""], ["N9", "LV", "A", "",
                "B"], ["DTM", "011", "20260401", "0930", "", "", ""], ["LIN", "", "UP", "0123"]]
    for options in (WriterOptions(), WriterOptions(delimiters=Delimiters("|", "^", "!", "\u2026", "\r\n"))):
        fast, general = X12Writer(options), X12Writer(options)
        for seg in segments:
            fast.segment(seg)
            general.segment(tuple(seg))
        assert fast.text() == general.text() and fast.count == general.count == len(segments)
        assert fast.text().startswith("N1*ST~" if options.delimiters.element == "*" else "N1|ST\u2026")


def test_value_with_a_delimiter_is_refused() -> None:
    w = X12Writer(WriterOptions(delimiters=Delimiters("*", ">", "^", "~")))
    for value in ("A*B", "A~B", "A>B", "A^B"):
        with pytest.raises(ValueError, match="delimiter"):
            w.segment(["N1", "ST", value])


def test_unusable_delimiters_are_refused() -> None:
    with pytest.raises(ValueError, match="unusable delimiters"):
        WriterOptions(delimiters=Delimiters("*", "*", None, "~"))
    with pytest.raises(ValueError, match="unusable delimiters"):
        WriterOptions(delimiters=Delimiters("A", ">", None, "~"))


@pytest.mark.parametrize("pad", [True, False])
def test_isa_padding(pad: bool) -> None:
    d = Delimiters("*", ">", "^", "~", "\n")
    raw = write_interchange(_envelope(7, "00501"), [GroupSpec("SW", "005010", 1, [("945", _body())])],
                            WriterOptions(delimiters=d, pad_isa=pad))
    isa = raw.split(b"~")[0].decode()
    values = isa.split("*")
    if pad:
        assert len(isa) == 105
        assert values[6] == "WAREHOUSE      " and values[8] == "RETAILER       "
        assert values[13] == "000000007"
    else:
        assert values[6] == "WAREHOUSE" and values[13] == "000000007"
    assert values[11] == "^" and values[16] == ">"  # ISA11 (00501: repetition) and ISA16 follow the delimiters
    a = analyze(raw, tolerant=not pad)
    codes = {i.code for i in a.issues}
    assert ("isa_not_fixed_width" in codes) is (not pad)


def test_generated_envelope_counts_and_control_numbers() -> None:
    groups = [GroupSpec("SW", "004010", 1001, [("945", _body()), ("945", _body()[:2])]),
              GroupSpec("SW", "004010", 1002, [("945", _body()[:1])])]
    raw = write_interchange(_envelope(123456789), groups, WriterOptions())
    segs = read_segments(raw)
    ids = [s.id for s in segs]
    assert ids.count("GS") == 2 and ids.count("ST") == 3
    iea = segs[-1]
    assert (iea.id, iea.element(1), iea.element(2)) == ("IEA", "2", "123456789")
    assert segs[0].element(13) == "123456789" and segs[0].element(14) == "1" and segs[0].element(15) == "T"
    ge = [s for s in segs if s.id == "GE"]
    assert [(g.element(1), g.element(2)) for g in ge] == [("2", "1001"), ("1", "1002")]
    st_se = [(s.id, s.element(2) if s.id == "ST" else s.element(1), s.element(2)) for s in segs
             if s.id in ("ST", "SE")]
    assert st_se == [("ST", "0001", "0001"), ("SE", "7", "0001"), ("ST", "0002", "0002"), ("SE", "4", "0002"),
                     ("ST", "0001", "0001"), ("SE", "3", "0001")]
    a = analyze(raw)
    envelope = [i.describe() for i in a.issues if i.code.startswith(("isa", "iea_", "ge_", "gs_", "se_", "st_"))]
    assert envelope == []
    assert [t.segment_count for t in a.transactions] == [7, 4, 3]


def test_generated_envelope_with_implementation_reference_and_ta1() -> None:
    group = GroupSpec("SW", "005010", 5, [("945", _body())], implementation_reference="005010")
    raw = write_interchange(_envelope(9, "00501"), [group], WriterOptions(delimiters=Delimiters("*", ":", "^", "~")),
                            interchange_acks=[["TA1", "000000008", "260401", "0930", "A", "000"]])
    segs = read_segments(raw)
    assert [s.id for s in segs][:3] == ["ISA", "TA1", "GS"]
    st = next(s for s in segs if s.id == "ST")
    assert st.elements == ["ST", "945", "0001", "005010"]
    a = analyze(raw)
    assert not [i for i in a.errors if i.code.startswith(("iea_", "ge_", "se_", "control_segment"))]
    assert a.interchanges[0].acks[0].status == "A"


def _round_trip(raw: bytes) -> tuple[list[list[str]], list[list[str]]]:
    """Read, write each interchange with its own delimiters (ISA unpadded, as sent), read again."""
    segments = read_segments(raw)
    out = bytearray()
    writer: X12Writer | None = None
    for seg in segments:
        if writer is None or seg.delimiters is not writer.options.delimiters:
            if writer is not None:
                out += writer.getvalue()
            writer = X12Writer(WriterOptions(delimiters=seg.delimiters, pad_isa=False))
        writer.segment(seg)
    if writer is not None:
        out += writer.getvalue()
    again = read_segments(bytes(out))

    def normal(seg: Segment) -> list[str]:
        els = list(seg.elements)
        if seg.id == "ISA":  # ISA11/ISA16 are rewritten from the delimiters
            return els[:11] + els[12:16]
        while len(els) > 1 and els[-1] == "":  # the writer omits trailing empty elements (X12.6)
            els.pop()
        return els

    before, after = [normal(s) for s in segments], [normal(s) for s in again]
    for k, seg in enumerate(segments):  # a malformed ISA (not 16 elements) is written complete: not compared
        if seg.id == "ISA" and len(seg.elements) != 17 and k < len(after):
            before[k] = after[k] = ["ISA (malformed, completed by the writer)"]
    return before, after


def _usable(raw: bytes) -> bool:
    segments = read_segments(raw)
    return bool(segments) and all(not s.delimiters.problems() for s in segments)


@pytest.mark.parametrize("path", ALL, ids=corpus_id)
def test_corpus_round_trip_keeps_segments(path: Path) -> None:
    raw = path.read_bytes()
    if not _usable(raw):
        pytest.skip("no segments with usable delimiters to write back (reported by the analyser instead)")
    try:
        before, after = _round_trip(raw)
    except ValueError as exc:  # the writer refuses a value that contains one of the output delimiters
        bad = [s for s in read_segments(raw) for v in s.elements[1:]
               if any(c and c in v for c in (s.delimiters.component, s.delimiters.repetition))]
        assert bad, exc
        assert "contains the delimiter" in str(exc)
        return
    assert after == before


def test_corpus_round_trip_covers_most_files() -> None:
    usable = [p for p in ALL if _usable(p.read_bytes())]
    assert len(usable) >= len(ALL) - 8, sorted(p.name for p in ALL if p not in usable)


def test_write_segments_reproduces_a_clean_file_byte_for_byte() -> None:
    path = next(p for p in ALL if p.name == "ediengine-940-ok.edi")
    raw = path.read_bytes()
    segments = read_segments(raw)
    expected = raw if raw.endswith(b"\n") else raw + b"\n"  # the file's last terminator is missing
    assert write_segments(segments, WriterOptions(delimiters=segments[0].delimiters)) == expected
