"""The pure acknowledgement reader on real third-party 997/999/TA1 files from the shared corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.edi.x12.ack_read import control_key, control_variants, read_acknowledgements
from tests.edi.x12_corpus import corpus_dir, shared_dir


def corpus_file(name: str) -> Path:
    """A corpus file by name: the repository's copy, else the shared corpus' (files not shipped for their
    licence); skipped when neither has it."""
    for root in filter(None, (corpus_dir(), shared_dir())):
        found = list(root.rglob(name))
        if found:
            return found[0]
    pytest.skip(f"{name} is not shipped with the repository (licence) and ../shared/x12-corpus is not there")


def test_997_with_many_ak4_reads_every_element_note_as_text():
    doc = read_acknowledgements(corpus_file("pyx12-997-many-ak4.edi").read_bytes())
    assert doc.is_acknowledgement
    [ic] = doc.interchanges
    [g] = ic.groups
    assert (g.kind, g.functional_id, g.control_number, g.code, g.outcome) == ("997", "HC", "56", "R", "rejected")
    [s] = g.sets
    assert (s.set_id, s.control_number, s.code, s.reasons, s.outcome) == ("837", "000000001", "R", ["4", "5"],
                                                                         "rejected")
    assert [seg.segment_id for seg in s.segments] == ["REF", "PER", "NM1", "NM1", "DMG", "CLM"]
    clm = s.segments[-1]
    [el] = clm.elements
    assert (el.position, el.component, el.reference, el.code, el.value) == (5, 1, "1331", "7", "95")
    lines = s.lines()
    assert "  number of included segments does not match actual count (code 4)" in lines
    assert ("  segment CLM at position 23, element CLM05-1 (ref 1331): invalid code value (code 7), value '95'"
            in lines)
    assert any("element DMG02 (ref 1251): invalid date (code 8), value '19461301'" in line for line in lines)


def test_999_with_two_groups_gives_one_outcome_per_group_and_set():
    doc = read_acknowledgements(corpus_file("pyx12-999-2gs-2st-each.edi").read_bytes())
    [ic] = doc.interchanges
    assert [(g.kind, g.functional_id, g.control_number, g.version) for g in ic.groups] == [
        ("999", "BE", "13360001", "005010X220A1")
    ] * 4
    assert all(s.outcome == "accepted" for g in ic.groups for s in g.sets)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("staedi-ta1-interchange-ack.edi", [("000000050", "A", "000", "no error")]),
        ("oopfactory-ta1-two-ta1-no-gs.edi", [("0659", "A", "", "code '' (not a standard code)"),
                                              ("0660", "A", "", "code '' (not a standard code)")]),
    ],
)
def test_ta1_files(name, expected):
    doc = read_acknowledgements(corpus_file(name).read_bytes())
    assert doc.is_acknowledgement
    got = [(t.control_number, t.status, t.note_code, t.note) for ic in doc.interchanges for t in ic.ta1s]
    assert got == expected


def test_every_corpus_acknowledgement_reads_without_error():
    files = [p for folder in ("997", "999") for p in (corpus_dir() / folder).glob("*.edi")]
    assert len(files) >= 10
    for path in files:
        doc = read_acknowledgements(path.read_bytes())
        groups = [g for ic in doc.interchanges for g in ic.groups]
        if doc.interchanges:  # some corpus files are sent without ISA (no envelope): nothing to match them by
            assert groups, path.name
            assert all(g.kind in ("997", "999") and g.functional_id for g in groups), path.name


def test_a_business_document_is_not_an_acknowledgement(repo_root):
    doc = read_acknowledgements((repo_root / "samples/x12/940/acme-retail-new-order.edi").read_bytes())
    assert not doc.is_acknowledgement and doc.interchanges[0].other_sets == ["940"]


def test_control_numbers_compare_without_padding():
    assert control_key(" 000000123 ") == control_key("123") == 123
    assert control_key("12A") is None
    assert control_variants("0001", range(4, 10)) == ["0001", "00001", "000001", "0000001", "00000001", "000000001"]
    assert "123" in control_variants("000000123") and "000000123" in control_variants("123")
