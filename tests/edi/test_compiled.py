"""The process-wide compiled validator cache (gateway/edi/x12/compiled.py)."""

from __future__ import annotations

from pathlib import Path

from gateway.edi.x12 import analyze, compiled
from gateway.edi.x12.rules import SetRules

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"


def test_checkers_are_compiled_once_per_spec_rules_and_tolerance():
    compiled.clear()
    first = analyze(SAMPLE.read_bytes(), tolerant=True)
    cached = dict(compiled._checkers)
    assert cached, "the first analysis compiles the 856 checkers"
    again = analyze(SAMPLE.read_bytes(), tolerant=True)
    assert dict(compiled._checkers) == cached  # no new entry: the second file reuses them
    assert all(a is b for k in cached for a, b in zip(cached[k].values(), compiled._checkers[k].values(),
                                                         strict=True))
    assert first.valid == again.valid and first.error_count == again.error_count
    analyze(SAMPLE.read_bytes(), tolerant=False)
    assert len(compiled._checkers) == len(cached) + 1  # strict reading checks differently: its own checkers


def test_rules_are_keyed_by_content_not_identity():
    a = SetRules(required_elements=(("BSN", 5),), codes={("HL", 3): frozenset({"S", "O"})})
    b = SetRules(required_elements=(("BSN", 5),), codes={("HL", 3): frozenset({"O", "S"})})
    c = SetRules(required_elements=(("BSN", 4),))
    assert compiled.checkers_for("856/004010", a, True) is compiled.checkers_for("856/004010", b, True)
    assert compiled.checkers_for("856/004010", a, True) is not compiled.checkers_for("856/004010", c, True)
