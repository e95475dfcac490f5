"""A document that is valid X12 but cannot be mapped gives a MappingError naming the segment position and field;
the other transaction sets of the file still map."""

from __future__ import annotations

from gateway.canonical import Order, Shipment
from gateway.errors import MappingError
from gateway.mapping import to_canonical

ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*U*00401*000000001*0*P*>~\n"


def _interchange(functional: str, *sets: str) -> bytes:
    body = "".join(sets)
    return (ISA + f"GS*{functional}*SENDER*RECEIVER*20240101*1200*1*X*004010~\n" + body
            + f"GE*{len(sets)}*1~\nIEA*1*000000001~\n").encode()


def _st(set_id: str, control: str, *segments: str) -> str:
    return f"ST*{set_id}*{control}~\n" + "".join(s + "~\n" for s in segments) + f"SE*{len(segments) + 2}*{control}~\n"


def test_missing_order_number_is_reported_and_the_next_set_still_maps():
    data = _interchange("OW",
                        _st("940", "0001", "W05*N**PO-1", "LX*1", "W01*5*CA**VN*ABC"),
                        _st("940", "0002", "W05*N*ORD-2*PO-2", "LX*1", "W01*7*EA**VN*XYZ"))
    first, second = to_canonical(data, file="two.edi")
    assert isinstance(first, MappingError)
    assert first.location is not None
    assert first.location.segment_position == 4  # ISA GS ST W05
    assert first.location.segment_id == "W05" and first.location.element_position == 2
    assert first.location.field == "order_number"
    assert "two.edi" in first.describe()
    assert isinstance(second, Order) and second.order_number == "ORD-2" and second.lines[0].quantity == 7


def test_unknown_unit_of_measure_with_a_strict_partner_table():
    overrides = {"tables": {"uom": {"CA": "case", "EA": "each"}}, "strict_tables": ["uom"]}
    data = _interchange("OW", _st("940", "0001", "W05*N*ORD-1", "LX*1", "W01*5*CA**VN*A", "LX*2", "W01*1*ZZ**VN*B"),
                        _st("940", "0002", "W05*N*ORD-2", "LX*1", "W01*2*EA**VN*C"))
    first, second = to_canonical(data, overrides)
    assert isinstance(first, MappingError)
    assert first.location.segment_id == "W01" and first.location.element_position == 2
    assert first.location.segment_position == 8
    assert first.location.field == "lines[1].uom"
    assert "'ZZ'" in first.message
    assert isinstance(second, Order) and second.lines[0].uom == "each"


def test_hl_orphan_is_a_mapping_error_at_that_hl():
    data = _interchange("SH", _st("856", "0001", "BSN*00*SHIP1*20240101*1200", "HL*1**S", "HL*2*1*O", "PRF*PO1",
                                  "HL*3*7*I", "LIN**VN*X", "SN1**1*EA"),
                        _st("856", "0002", "BSN*00*SHIP2*20240101*1200", "HL*1**S", "HL*2*1*O", "PRF*PO2",
                            "HL*3*2*I", "LIN**VN*Y", "SN1**2*EA"))
    first, second = to_canonical(data)
    assert isinstance(first, MappingError)
    assert first.location.segment_id == "HL" and first.location.element_position == 2
    assert first.location.segment_position == 8  # ISA GS ST BSN HL HL PRF HL
    assert "orphan" in first.message
    assert isinstance(second, Shipment) and second.orders[0].lines[0].quantity_shipped == 2


def test_hls_without_parent_ids_are_attached_by_level():
    data = _interchange("SH", _st("856", "0001", "BSN*00*S1*20240101*1200", "HL*1**S", "HL*2**O", "PRF*PO-A",
                                  "HL*3**P", "MAN*GM*00012345678901234567", "HL*4**I", "LIN**UP*1", "SN1**3*EA",
                                  "HL*5**O", "PRF*PO-B", "HL*6**I", "LIN**UP*2", "SN1**4*EA"))
    (record,) = to_canonical(data)
    assert isinstance(record, Shipment)
    assert [o.purchase_order for o in record.orders] == ["PO-A", "PO-B"]
    assert record.orders[0].lines[0].package == "00012345678901234567"
    assert record.orders[1].lines[0].package is None


def test_a_set_without_mapping_is_reported_not_dropped():
    data = _interchange("FA", _st("997", "0001", "AK1*OW*1", "AK9*A*1*1*1"))
    (item,) = to_canonical(data)
    assert isinstance(item, MappingError) and "997" in item.message


def test_bad_date_names_the_element():
    data = _interchange("OW", _st("940", "0001", "W05*N*ORD-1", "G62*10*20241340"))
    (item,) = to_canonical(data)
    assert isinstance(item, MappingError)
    assert item.location.segment_id == "G62" and item.location.element_position == 2
    assert item.location.field == "requested_ship_date"
