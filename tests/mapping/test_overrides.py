"""Partner overrides: code tables, strict tables and replaced fields, read from partners/<id>.mapping.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.mapping import from_canonical, load_overrides, to_canonical

ROOT = Path(__file__).resolve().parents[2]


def test_status_codes_and_carrier_are_translated_and_written_back():
    overrides = load_overrides(ROOT / "partners" / "alink-carrier.mapping.yaml")
    data = (ROOT / "samples/x12/214/alink-carrier-status.edi").read_bytes()
    (status,) = to_canonical(data, overrides)
    assert status.carrier_scac == "alink"
    assert [e.status_code for e in status.events] == ["arrived_at_pickup", "departed_pickup",
                                                      "arrived_at_terminal", "departed_terminal"]
    assert {e.reason_code for e in status.events} == {"normal"}
    written = from_canonical([status], set_id="214", overrides=overrides)
    assert b"AT7*X3*NS" in written and b"B10*187676*857395857*ALNK" in written
    (plain,) = to_canonical(written)  # without the partner's tables: the X12 codes
    assert plain.events[0].status_code == "X3" and plain.carrier_scac == "ALNK"


def test_strict_uom_table_and_replaced_reference_field():
    overrides = load_overrides(ROOT / "partners" / "acme-retail.mapping.yaml")
    (order,) = to_canonical((ROOT / "samples/x12/940/acme-retail-new-order.edi").read_bytes(), overrides)
    assert [line.uom for line in order.lines] == ["case", "case"]
    assert ("store_number", "16") in [(r.qualifier, r.value) for r in order.references]
    (plain,) = to_canonical((ROOT / "samples/x12/940/acme-retail-new-order.edi").read_bytes())
    assert ("PIN", "16") in [(r.qualifier, r.value) for r in plain.references]


def test_override_file_with_unknown_keys_is_refused(tmp_path: Path):
    bad = tmp_path / "x.mapping.yaml"
    bad.write_text("tabels: {}\n")
    with pytest.raises(ConfigError, match="unknown keys"):
        load_overrides(bad)


def test_missing_override_file_means_no_overrides(tmp_path: Path):
    assert load_overrides(tmp_path / "nobody.mapping.yaml") == {}


def test_extra_references_and_a_different_qualifier_for_the_purchase_order():
    """A partner that sends its PO in N9*PO and extra references in REF segments."""
    overrides = {"sets": {"940": {
        "fields": {
            "purchase_order": {"path": "N9[01=PO].02"},
            "references": {"concat": [
                {"each": "N9", "when": {"path": "N9.01", "not_in": ["PO"]},
                 "fields": {"qualifier": "N9.01", "value": "N9.02"}},
                {"each": "REF", "fields": {"qualifier": "REF.01", "value": "REF.02"}},
            ]},
        }}}}
    data = b"ST*940*0001~W05*N*ORD-1~N9*PO*PO-77~N9*BR*R1~REF*ZZ*EXTRA-9~SE*6*0001~"
    (order,) = to_canonical(data, overrides)
    assert order.purchase_order == "PO-77"
    assert [(r.qualifier, r.value) for r in order.references] == [("BR", "R1"), ("ZZ", "EXTRA-9")]
    written = from_canonical([order], overrides=overrides)
    assert b"N9*PO*PO-77~" in written and b"N9*ZZ*EXTRA-9~" in written
    (again,) = to_canonical(written, overrides)
    assert again == order
