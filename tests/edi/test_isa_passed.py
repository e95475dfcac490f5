"""ISA elements known to pass are not checked again (``envelope_interchange._passed``): the analysis of a file is
the same whether the elements of its ISA were seen before or not, for good and bad ISAs alike."""

from __future__ import annotations

import pytest
from x12_corpus import corpus_files

from gateway.edi.x12 import analyze, envelope_interchange

GOOD = next(p for p in corpus_files("856") if p.name == "edienginee-856-crossdock.edi").read_bytes()


def _isa_variant(data: bytes, pos: int, value: str, *more: tuple[int, str]) -> bytes:
    text = data.decode("latin-1")
    sep = text[3]
    parts = text.split(sep, 16)  # the id, ISA01-ISA15, then ISA16 and the rest of the file
    for p, v in [(pos, value), *more]:
        parts[p] = v
    return sep.join(parts).encode("latin-1")


VARIANTS = [GOOD] + [_isa_variant(GOOD, pos, value) for pos, value in [
    (1, "99"), (2, "short"), (5, "Z"), (5, "QQ"), (6, "SENDER"), (7, ""), (9, "991332"), (10, "2561"),
    (11, "X"), (12, "0040A"), (13, "12345678"), (14, "7"), (15, "Q"), (14, " "),
]] + [  # ISA11 is checked against ISA12: passes with 00501, fails with 00401 (never taken from the cache)
    _isa_variant(GOOD, 11, "^", (12, "00501")), _isa_variant(GOOD, 11, "^", (12, "00401")),
]


def _issues(data: bytes, tolerant: bool) -> list[tuple[object, ...]]:
    a = analyze(data, tolerant=tolerant, file="in.edi")
    return [(i.code, i.message, i.severity, i.location.segment_id, i.location.element_position) for i in a.issues]


@pytest.mark.parametrize("tolerant", [False, True])
def test_the_same_issues_with_a_cold_and_a_warm_cache(tolerant: bool) -> None:
    files = VARIANTS + [p.read_bytes() for p in corpus_files("940")[:10]]
    cold = []
    for data in files:
        envelope_interchange._passed.clear()
        cold.append(_issues(data, tolerant))
    for data in files:  # warm: every element that passed anywhere is remembered
        _issues(data, tolerant)
    for data in reversed(files):
        _issues(data, tolerant)
    warm = [_issues(data, tolerant) for data in files]
    assert warm == cold
    assert any(cold[1:len(VARIANTS)])  # the variants do raise ISA issues


def test_elements_that_change_per_file_are_always_checked() -> None:
    _issues(GOOD, False)
    passed = next(iter(envelope_interchange._passed.values()))[2]
    assert passed and not {pos for pos, _v in passed} & envelope_interchange._PER_FILE
    bad_date = _isa_variant(GOOD, 9, "991332")
    assert any(code == "isa_element_invalid" and pos == 9 for code, _m, _s, _sid, pos in _issues(bad_date, False))
