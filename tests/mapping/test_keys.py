"""business_keys: the identifiers the store indexes, from real samples."""

from __future__ import annotations

from pathlib import Path

from gateway.canonical import business_keys
from gateway.mapping import to_canonical

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "x12"


def _first(path: str):
    return to_canonical((SAMPLES / path).read_bytes())[0]


def test_shipment_keys_from_the_crossdock_856():
    keys = business_keys(_first("856/harbor-3pl-crossdock.edi"))
    assert ("shipment", "000009") in keys and ("bol", "000001") in keys and ("pro", "0000000008741") in keys
    assert ("po", "POREF00") in keys and ("po", "POREF01") in keys
    assert ("sscc", "000715670002152360") in keys  # MAN*GM 00 + SSCC-18, normalised to 18 digits
    assert len(keys) == len(set(keys))


def test_tracking_numbers_and_945_orders():
    assert ("tracking", "9274896900088944777116") in business_keys(_first("856/coedition-856-pipe-3st.edi"))
    keys = business_keys(_first("945/x12types-945-waqe.edi"))
    assert ("shipment", "BOL12345") in keys and ("order", "IF102") in keys and ("po", "PO9865") in keys


def test_order_and_status_keys():
    assert business_keys(_first("940/acme-retail-new-order.edi"))[:2] == [("order", "18061923"),
                                                                          ("po", "Test Order 1")]
    keys = business_keys(_first("214/staedi-214-ellipsis-segterm.edi"))
    assert ("pro", "0542550913") in keys and ("shipment", "7727019") in keys and ("po", "900169") in keys
