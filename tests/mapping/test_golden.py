"""Golden files: every X12 sample under samples/ maps to the canonical JSON beside it, and survives
X12 -> canonical -> X12 -> canonical unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.canonical.jsonio import documents_json, record_to_dict
from gateway.errors import MappingError
from gateway.mapping import from_canonical, to_canonical
from gateway.mapping.x12 import EnvelopeSettings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
X12_SAMPLES = sorted(SAMPLES.glob("x12/*/*.edi"))


def test_every_sample_has_its_expected_json():
    assert len(X12_SAMPLES) >= 20
    missing = [p.name for p in X12_SAMPLES if not p.with_suffix(".canonical.json").exists()]
    assert not missing


@pytest.mark.parametrize("sample", X12_SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_maps_to_its_golden_json(sample: Path):
    items = to_canonical(sample.read_bytes(), file=sample.name)
    expected = json.loads(sample.with_suffix(".canonical.json").read_text(encoding="utf-8"))
    assert json.loads(documents_json(items)) == expected
    assert not any(isinstance(i, MappingError) for i in items)


@pytest.mark.parametrize("sample", X12_SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_round_trips_through_x12(sample: Path):
    set_id = sample.parent.name
    records = to_canonical(sample.read_bytes())
    env = EnvelopeSettings(version="005010" if set_id == "945" and b"005010" in sample.read_bytes() else "004010")
    written = from_canonical(records, env, set_id=set_id)
    again = to_canonical(written)
    assert [record_to_dict(r) for r in again] == [record_to_dict(r) for r in records]
