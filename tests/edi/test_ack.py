"""Acknowledgements: 997/999 checked by pyx12 (independent implementation), TA1 rules, statuses, envelopes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from x12_corpus import corpus_file, corpus_files, corpus_id, shipped

from gateway.edi.x12 import (
    AckOptions,
    SequentialControlNumbers,
    analyze,
    build_acknowledgement,
    read_segments,
)
from gateway.edi.x12.model import Interchange

WHEN = datetime(2024, 5, 1, 12, 30)
OPTIONS = AckOptions(timestamp=WHEN)


def _family(ic: Interchange) -> str | None:
    versions = {g.version[:6] for g in ic.groups if g.enveloped}
    if versions <= {"004010"} and versions:
        return "004010"
    if versions <= {"005010"} and versions:
        return "005010"
    if ic.version == "00501" and not all(v.isdigit() for v in versions):
        return "005010"  # GS08 unusable (malformed GS): the interchange version decides
    return None


def _family_interchanges() -> list[tuple[str, int, bool]]:
    out = []
    for path in corpus_files("856", "940", "945", "214"):
        analysis = analyze(path.read_bytes(), tolerant=True)
        for n, ic in enumerate(analysis.interchanges):
            if ic.enveloped and _family(ic):
                out.append((corpus_id(path), n, shipped(path)))
    return out


FAMILY = _family_interchanges()


def test_the_families_cover_most_of_the_corpus() -> None:
    # 004060/004030/003060 groups and the bare 945 are the only ones left out
    assert sum(1 for *_, own in FAMILY if own) >= 22  # of the files shipped in tests/corpus/x12
    assert len(FAMILY) >= 28 or len(FAMILY) == sum(1 for *_, own in FAMILY if own)  # with ../shared's extras


def _segments(data: bytes) -> list[list[str]]:
    return [s.elements for s in read_segments(data)]


def _ack(name: str, index: int = 0, **kw: object) -> tuple[Interchange, bytes]:
    analysis = analyze(corpus_file(name).read_bytes(), tolerant=bool(kw.pop("tolerant", True)))
    ic = analysis.interchanges[index]
    counter = SequentialControlNumbers(41, 7)
    data = build_acknowledgement(ic, control_numbers=counter, options=AckOptions(timestamp=WHEN, **kw))  # type: ignore[arg-type]
    assert data is not None
    return ic, data


@pytest.mark.slow
@pytest.mark.parametrize(("name", "index"), [(n, i) for n, i, _ in FAMILY], ids=[f"{n}#{i}" for n, i, _ in FAMILY])
def test_ack_validates_with_pyx12(name: str, index: int, pyx12_check: Callable[[bytes, Path], list[str]],
                                  tmp_path: Path) -> None:
    ic, data = _ack(name, index)
    found = pyx12_check(data, tmp_path)
    # The acknowledgement mirrors the partner's own delimiters. pyx12 rejects an ISA16 outside the X12 basic and
    # extended character sets (the backtick of oopfactory-856-ex1); it rejects the partner's inbound ISA for the same
    # reason, so that one message is a property of the partner's delimiters, not of the acknowledgement we built.
    own_isa16 = ic.delimiters.component if ic.delimiters else None
    if own_isa16 == "`":
        found = [m for m in found if not ("(ISA16)" in m and "invalid character(`)" in m)]
    assert found == []
    # and with this engine, strictly: the acknowledgement itself has no error at all
    again = analyze(data, tolerant=False)
    assert again.errors == [], [i.describe() for i in again.errors]
    kind = "999" if _family(ic) == "005010" else "997"
    sets = [s for s in _segments(data) if s[0] == "ST"]
    assert sets and all(s[1] == kind for s in sets)


def test_envelope_mirrors_and_swaps() -> None:
    _ic, data = _ack("940/ediengine-940-2-ups.edi")
    segs = _segments(data)
    isa, gs = segs[0], segs[1]
    assert (isa[5], isa[6].strip(), isa[7], isa[8].strip()) == ("ZZ", "WAREHOUSE", "ZZ", "VENDOR")
    assert (isa[9], isa[10], isa[12], isa[13]) == ("240501", "1230", "00401", "000000042")
    assert (gs[1], gs[2], gs[3], gs[4], gs[5], gs[6], gs[8]) == ("FA", "WAREHOUSE", "VENDOR", "20240501", "1230",
                                                                  "8", "004010")
    assert segs[-1] == ["IEA", "1", "000000042"]
    assert ["AK1", "OW", "9221"] in segs and ["AK2", "940", "20066"] in segs
    assert ["AK5", "A"] in segs and ["AK9", "A", "1", "1", "1"] in segs
    assert data.endswith(b"~\n")  # newline terminator in the inbound file: '~' plus a line break


def test_999_for_005010_group() -> None:
    _, data = _ack("945/x12types-945-5010-envelope.edi")
    segs = _segments(data)
    assert segs[0][12] == "00501" and segs[0][11] != "U"  # ISA11 is the repetition separator from 00402 on
    assert segs[1][8] == "005010X231"
    assert segs[2] == ["ST", "999", "0001", "005010X231"]
    assert segs[3] == ["AK1", "SW", "000000123", "005010"]
    assert ["IK5", "R", "4", "5"] in segs  # SE01 wrong (4) and segments in error (5)
    ik3 = [s for s in segs if s[0] == "IK3"]
    assert ["IK3", "N1", "6", "N1", "8"] in ik3 and ["IK3", "W10", "10", "", "8"] in ik3


def test_rejected_set_and_group() -> None:
    _, data = _ack("856/x12types-856-carrier-details.edi")
    segs = _segments(data)
    assert ["AK5", "R", "4"] in segs
    assert ["AK9", "R", "1", "1", "0"] in segs


def test_partially_accepted_group_with_segment_and_element_detail() -> None:
    _, data = _ack("invalid/940-ediengine-acktest-2gs.edi")
    segs = _segments(data)
    st = [i for i, s in enumerate(segs) if s[0] == "ST"]
    first = segs[st[0]:st[1]]
    assert ["AK2", "940", "20066"] in first and ["AK2", "940", "20067"] in first
    # N9**3 in set 20067: segment 7, loop W01, N901 (DE 128) missing
    assert ["AK3", "N9", "7", "W01", "8"] in first
    assert ["AK4", "1", "128", "1"] in first
    assert ["AK9", "P", "2", "2", "1"] in first
    second = segs[st[1]:]
    assert ["AK4", "6", "433", "7", "43.00"] in second  # W6606 (DE 433, F.O.B. point code) is not "43.00"
    assert ["AK9", "R", "1", "1", "0"] in second


def test_accepted_with_errors_from_partner_rule_warnings() -> None:
    rules = {"transaction_sets": {"940": {"must_use": ["W76"], "severity": "warning"}}}
    analysis = analyze(corpus_file("940/ediengine-940-2-ups.edi").read_bytes(), rules=rules)
    data = build_acknowledgement(analysis.interchanges[0], control_numbers=SequentialControlNumbers(),
                                 options=OPTIONS)
    assert data is not None
    segs = _segments(data)
    assert ["AK3", "W76", "9", "", "3"] in segs
    assert ["AK5", "E"] in segs and ["AK9", "E", "1", "1", "1"] in segs


def test_group_version_not_supported() -> None:
    _, data = _ack("856/oopfactory-856-ex2-003060-cld.edi")
    segs = _segments(data)
    gs = next(s for s in segs if s[0] == "GS")
    assert gs[8] == "003060" and segs[0][12] == "00306"
    assert ["AK5", "R", "1"] in segs and ["AK9", "R", "1", "1", "0", "2"] in segs


def test_ta1_when_requested_precedes_the_groups() -> None:
    _, data = _ack("856/oopfactory-856-ex1-tilde-elemsep.edi")
    segs = _segments(data)
    assert segs[1] == ["TA1", "000000001", "010420", "1312", "A", "000"]
    assert segs[2][0] == "GS"


def test_ta1_for_a_broken_interchange_even_when_not_requested() -> None:
    ic, data = _ack("856/coedition-856-pipe-sloppy-isa.edi")
    assert not ic.ack_requested
    segs = _segments(data)
    assert segs[1] == ["TA1", "000022429", "000131", "0326", "E", "001"]  # IEA02 != ISA13, content still acked
    assert ["AK9", "R", "1", "1", "0", "4"] in segs  # GE02 != GS06


def test_fatal_interchange_gets_a_ta1_reject_only() -> None:
    _, data = _ack("invalid/940-x12types-isa-17-fields.edi")
    segs = _segments(data)
    assert [s[0] for s in segs] == ["ISA", "TA1", "IEA"]
    assert segs[1][4:] == ["R", "022"] and segs[2] == ["IEA", "0", "000000042"]


def test_strict_mode_rejects_a_multibyte_terminator() -> None:
    _, data = _ack("214/staedi-214-ellipsis-segterm.edi", tolerant=False)
    segs = _segments(data)
    assert [s[0] for s in segs] == ["ISA", "TA1", "IEA"] and segs[1][4:] == ["R", "026"]
    assert b"\xe2\x80\xa6" not in data  # the reply uses an ASCII terminator


def test_ta1_only_when_asked_and_nothing_else_due() -> None:
    analysis = analyze(corpus_file("997/pyx12-997-with-ta1-after-ge.edi").read_bytes())
    ic = analysis.interchanges[0]
    assert ic.ack_requested
    data = build_acknowledgement(ic, control_numbers=SequentialControlNumbers(), options=OPTIONS)
    assert data is not None
    segs = _segments(data)
    assert [s[0] for s in segs] == ["ISA", "TA1", "IEA"]  # a 997 group is not acknowledged by a 997
    assert analyze(data, tolerant=False).valid


def test_nothing_due() -> None:
    analysis = analyze(corpus_file("997/pyx12-997-834-accept.edi").read_bytes())
    assert build_acknowledgement(analysis.interchanges[0], control_numbers=SequentialControlNumbers(),
                                 options=OPTIONS) is None


def test_bare_sets_cannot_be_acknowledged() -> None:
    analysis = analyze(corpus_file("945/x12types-945-simplot-noenvelope.edi").read_bytes(), tolerant=True)
    assert build_acknowledgement(analysis.interchanges[0], control_numbers=SequentialControlNumbers(),
                                 options=OPTIONS) is None


def test_the_engine_never_reads_the_clock() -> None:
    analysis = analyze(corpus_file("940/ediengine-940-2-ups.edi").read_bytes())
    with pytest.raises(ValueError, match="timestamp"):
        build_acknowledgement(analysis.interchanges[0], control_numbers=SequentialControlNumbers())


def test_control_numbers_come_from_the_counter_one_group_per_version() -> None:
    analysis = analyze(corpus_file("940/ediengine-940-multi-isa-gs-st.edi").read_bytes(), tolerant=True)
    counter = SequentialControlNumbers(100, 500)
    acks = [build_acknowledgement(ic, control_numbers=counter, options=OPTIONS) for ic in analysis.interchanges]
    first, second = (_segments(a) for a in acks if a is not None)
    assert first[0][13] == "000000101" and second[0][13] == "000000102"
    gs = [s for s in first if s[0] == "GS"]
    assert len(gs) == 1 and gs[0][6] == "501"  # two inbound 004010 groups -> one FA group with two 997
    assert [s[2] for s in first if s[0] == "ST"] == ["0001", "0002"]
    assert [s[2] for s in first if s[0] == "AK1"] == ["3313", "3314"]
    assert next(s for s in second if s[0] == "GS")[6] == "502"


def test_options_override_envelope_values() -> None:
    analysis = analyze(corpus_file("940/ediengine-940-2-ups.edi").read_bytes())
    options = AckOptions(timestamp=WHEN, sender_qualifier="01", sender_id="GATEWAY", element_separator="|",
                         segment_terminator="'", suffix="", usage="T", functional_ack="999")
    data = build_acknowledgement(analysis.interchanges[0], control_numbers=SequentialControlNumbers(),
                                 options=options)
    assert data is not None
    text = data.decode()
    assert text.startswith("ISA|00|") and "\n" not in text
    segs = _segments(data)
    assert (segs[0][5], segs[0][6].strip(), segs[0][15]) == ("01", "GATEWAY", "T")
    assert segs[2][:2] == ["ST", "999"]
