"""CSV and XML both ways: round trips over every golden sample, text identifiers, chunked reading, XSD checks and
hostile XML."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from gateway.canonical import Order
from gateway.canonical.jsonio import record_to_dict
from gateway.errors import MappingError
from gateway.mapping import to_canonical
from gateway.mapping.csvio import read_csv, write_csv
from gateway.mapping.xmlio import XSD_DIR, build_xsd, read_xml, write_xml

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "samples").glob("x12/*/*.edi"))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_xml_round_trip(sample: Path):
    records = to_canonical(sample.read_bytes())
    kind = records[0].type
    back = read_xml(write_xml(records, kind))
    assert [record_to_dict(r) for r in back] == [record_to_dict(r) for r in records]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_csv_round_trip_is_stable(sample: Path):
    """canonical -> CSV -> canonical -> CSV: the CSV columns survive exactly (CSV holds a subset of a record)."""
    records = to_canonical(sample.read_bytes())
    kind = records[0].type
    first = io.StringIO()
    write_csv(records, first, kind)
    back = list(read_csv(io.StringIO(first.getvalue()), kind, chunksize=3))
    assert not any(isinstance(r, MappingError) for r in back)
    second = io.StringIO()
    write_csv(back, second, kind)
    assert second.getvalue() == first.getvalue()


def test_csv_records_round_trip_exactly_and_keep_identifiers_as_text():
    text = ("order_number,purchase_order,purpose,ship_to_name,ship_to_postal_code,line_number,upc,quantity,uom\n"
            "000123,NA,new,Store 7,01234,1,000000000017,12.50,CA\n"
            "000123,NA,new,Store 7,01234,2,000000000024,3,EA\n"
            "000124,,cancel,,,,,,\n")
    records = list(read_csv(io.StringIO(text), "order", chunksize=1))
    assert [r.order_number for r in records] == ["000123", "000124"]
    first = records[0]
    assert first.purchase_order == "NA"  # not a missing value
    assert first.parties[0].role == "ship_to" and first.parties[0].postal_code == "01234"
    assert [line.product.upc for line in first.lines] == ["000000000017", "000000000024"]
    assert str(first.lines[0].quantity) == "12.50"
    assert records[1].lines == []
    out = io.StringIO()
    write_csv(records, out, "order")
    again = list(read_csv(io.StringIO(out.getvalue()), "order"))
    assert again == records


def test_csv_bad_value_names_the_line_and_the_rest_still_reads():
    text = "order_number,line_number,quantity,uom\nA1,1,twelve,CA\nA2,1,5,EA\n"
    bad, good = read_csv(io.StringIO(text), "order", file="in.csv")
    assert isinstance(bad, MappingError) and bad.location.line == 2 and "quantity" in bad.location.field
    assert isinstance(good, Order) and good.lines[0].quantity == 5


def test_shipped_xsds_are_current():
    for kind in ("order", "shipment", "status"):
        assert (XSD_DIR / f"{kind}.xsd").read_text(encoding="utf-8") == build_xsd(kind), \
            "run python -m gateway.mapping.xmlio"


def test_xml_that_breaks_the_xsd_is_refused():
    with pytest.raises(MappingError, match=r"order\.xsd"):
        read_xml(b"<orders><order><quantity>x</quantity></order></orders>")


def test_external_entities_are_not_resolved(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    doc = (f'<?xml version="1.0"?><!DOCTYPE orders [<!ENTITY x SYSTEM "file://{secret}">]>'
           "<orders><order><order_number>&x;</order_number></order></orders>").encode()
    try:
        records = read_xml(doc)
    except MappingError:
        return
    assert all("TOPSECRET" not in (r.order_number or "") for r in records if isinstance(r, Order))


def test_entity_expansion_bomb_does_not_expand():
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">'
                      for i in range(8))
            + ']><orders><order><order_number>&lol7;</order_number></order></orders>').encode()
    try:
        records = read_xml(bomb)
    except MappingError:
        return
    assert all(len(r.order_number or "") < 1000 for r in records if isinstance(r, Order))
