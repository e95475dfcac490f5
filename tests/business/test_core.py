"""The pure core of business timelines: key normalisation, stage, quantities, service levels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.business.keys import normalise, primary_key
from gateway.business.quantities import compare
from gateway.business.service_levels import Level, evaluate
from gateway.business.stage import Doc, progress, summarise

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _canonical(path: str) -> list[dict]:
    data = json.loads((REPO / "samples" / "x12" / path).read_text())
    return data["documents"] if isinstance(data, dict) and "documents" in data else [data]


def doc(n: int, sets: str, hours: float, records: list[dict] | None = None, status: str = "acked") -> Doc:
    return Doc(n, "inbound", "p", T0 + timedelta(hours=hours), sets.split(","), status, records=records or [])


@pytest.mark.parametrize(("a", "b"), [("0018061923", "18061923"), ("po 4500-012345", "PO4500012345"),
                                      ("bol123", "BOL123"), ("  00000 ", "0"), ("SHP.0042", "shp0042")])
def test_keys_written_differently_meet(a, b):
    assert normalise(a) == normalise(b) != ""


def test_keys_that_differ_stay_apart():
    assert normalise("4500012345") != normalise("45000123450")
    assert normalise("") == normalise(None) == normalise("--") == ""


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["stra\u00dfe-\u01311\u017f", "\uff10\uff11\uff12", "\ufb0012"]))  # sharp s, dotless i, long s: upper ASCII
def test_the_join_form_keeps_ascii_letters_and_digits_of_the_upper_case_text(value):
    text = "".join(ch for ch in value.upper() if ch.isascii() and ch.isalnum())  # the definition, one char at a time
    assert normalise(value) == ((text.lstrip("0") or ("0" if text else ""))[:128])


def test_an_order_is_named_by_its_order_number_before_its_po():
    assert primary_key("order", [("po", "Test Order 1"), ("order", "0018061923")]) == ("0018061923", "18061923")
    assert primary_key("shipment", [("pro", "187676"), ("shipment", "857395857")]) == ("857395857", "857395857")
    assert primary_key("shipment", [("po", "1")]) is None


def test_stage_follows_the_documents_and_their_carrier_statuses():
    order = _canonical("940/acme-retail-new-order.canonical.json")
    status = _canonical("214/alink-carrier-status.canonical.json")
    docs = [doc(1, "940", 0, order)]
    assert progress(docs).stage == "ordered"
    docs.append(doc(2, "945", 3))
    assert progress(docs).stage == "shipped"
    in_transit = {"type": "status", "events": [{"status_code": "AF"}]}
    docs.append(doc(3, "214", 5, [in_transit]))
    p = progress(docs)
    assert p.stage == "in_transit" and p.milestones["picked_up"] == T0 + timedelta(hours=5)
    refused = {"type": "status", "events": [{"status_code": "A7"}]}
    docs.append(doc(4, "214", 7, [refused]))
    assert progress(docs).stage == "exception" and "A7" in (progress(docs).reason or "")
    docs.append(doc(5, "214", 9, status))  # the ALNK 214 sample: X3, AF, X4, then CD
    p = progress(docs)
    assert p.stage == "delivered" and p.milestones["delivered"] == T0 + timedelta(hours=9), p.statuses


def test_a_rejected_document_does_not_move_the_order():
    docs = [doc(1, "940", 0), doc(2, "214", 1, [{"type": "status", "events": [{"status_code": "D1"}]}], "failed")]
    assert progress(docs).stage == "ordered"


def _shipped(*quantities: int, vendor_parts=("0638746000", "0143872000")) -> dict:
    return {"type": "shipment", "orders": [{"lines": [
        {"line_number": str(n), "product": {"vendor_part": vp.lstrip("0")}, "quantity_shipped": str(q)}
        for n, (vp, q) in enumerate(zip(vendor_parts, quantities, strict=True), start=1)]}]}


def test_quantities_matched_short_and_over_per_line():
    order = _canonical("940/acme-retail-new-order.canonical.json")  # 750 and 170 cases
    base = [doc(1, "940", 0, order)]
    assert compare(base)["summary"] == "open"
    q = compare([*base, doc(2, "945", 1, [_shipped(750, 170)])])
    assert q["summary"] == "matched" and [ln["state"] for ln in q["lines"]] == ["matched", "matched"]
    q = compare([*base, doc(2, "945", 1, [_shipped(700, 170)])])
    assert q["summary"] == "short" and q["lines"][0]["difference"] == "-50"
    q = compare([*base, doc(2, "945", 1, [_shipped(750, 200)])])
    assert q["summary"] == "over" and q["lines"][1]["state"] == "over"
    # an 856 repeating the 945 is not counted twice
    q = compare([*base, doc(2, "945", 1, [_shipped(750, 170)]), doc(3, "856", 2, [_shipped(750, 170)])])
    assert q["summary"] == "matched"
    # a line never ordered
    q = compare([*base, doc(2, "945", 1, [_shipped(750, 170, 5, vendor_parts=("0638746000", "0143872000", "9"))])])
    assert q["lines"][2]["state"] == "unordered" and q["summary"] == "over"


def test_service_levels_missing_late_kept_and_next_check():
    lv = Level("acme", "shipping-advice", "ordered", "shipped", timedelta(hours=24))
    ms = {"ordered": T0}
    assert evaluate([lv], ms, T0 + timedelta(hours=1)) == ([], T0 + timedelta(hours=24))
    [b], nxt = evaluate([lv], ms, T0 + timedelta(hours=25))
    assert b.kind == "missing" and nxt is None and "no shipped within 24 h" in b.describe()
    [b], _ = evaluate([lv], {**ms, "shipped": T0 + timedelta(hours=30)}, T0 + timedelta(hours=31))
    assert b.kind == "late" and "6 h 0 min after" in b.describe()
    assert evaluate([lv], {**ms, "shipped": T0 + timedelta(hours=2)}, T0 + timedelta(days=9)) == ([], None)
    # measured on orders only; a delivery level on shipments only
    assert evaluate([lv], ms, T0 + timedelta(days=2), object_kind="shipment") == ([], None)
    dl = Level("alink", "delivery", "shipped", "delivered", timedelta(days=5))
    assert evaluate([dl], {"shipped": T0}, T0 + timedelta(days=6), object_kind="order") == ([], None)
    assert evaluate([dl], {"shipped": T0}, T0 + timedelta(days=6), object_kind="shipment")[0][0].kind == "missing"


def test_summarised_records_give_the_same_progress():
    """The service-level check reads summarised records (a few dicts whatever a document's size): same stage,
    milestones, reason and carrier statuses as the whole records, including repeats and a delivery after an
    exception."""
    status = _canonical("214/alink-carrier-status.canonical.json")
    many = [{"type": "shipment", "purpose": "original", "orders": [{"lines": []}]} for _ in range(500)]
    repeats = [{"type": "status", "events": [{"status_code": c, "reason_code": f"r{i}", "timestamp": f"t{i}"}
                                            for c in ("A9", "AF", "D1", "A9")]} for i in range(3)]
    cases = [
        [doc(1, "940", 0, _canonical("940/acme-retail-new-order.canonical.json")), doc(2, "856", 1, many)],
        [doc(1, "856", 0, [*many, {"type": "shipment", "purpose": "Cancel"}])],
        [doc(1, "856", 0, many), doc(2, "214", 2, repeats), doc(3, "214", 3, status)],
        [doc(1, "214", 0, [{"type": "status", "events": [{"status_code": "D1"}, {"status_code": "A7"}]}])],
    ]
    for docs in cases:
        whole = progress(docs)
        short = progress([doc(d.message_id, ",".join(d.set_ids), (d.at - T0).total_seconds() / 3600,
                              summarise(d.records)) for d in docs])
        assert (short.stage, short.milestones, short.reason, short.statuses) == \
            (whole.stage, whole.milestones, whole.reason, whole.statuses)
    assert len(summarise(many)) == 1
    assert progress(cases[1]).stage == "exception"
