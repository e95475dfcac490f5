"""Quantities ordered against shipped, per line (pure).

Ordered quantities come from the order records (940 W01-01), shipped quantities from the shipping advice (945
W12-03), or from the ASNs (856 SN1-02) when there is no 945, so that a 945 and its 856 are not counted twice.
Lines are matched on the first product id both sides carry (UPC, vendor part, SKU, buyer part, GTIN, case UPC),
then on the line number. A line shipped below its ordered quantity is ``short``, above it ``over``; a line ordered
and never shipped is ``short`` once anything shipped (``open`` before); a shipped line that was never ordered is
``unordered``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.business.stage import Doc

PRODUCT_IDS = ("upc", "vendor_part", "sku", "buyer_part", "gtin", "case_upc")


@dataclass(slots=True)
class Line:
    key: str
    product: dict[str, Any]
    description: str | None
    uom: str | None
    ordered: Decimal | None
    shipped: Decimal | None

    def state(self, anything_shipped: bool) -> str:
        if self.ordered is None:
            return "unordered"
        if self.shipped is None:
            return "short" if anything_shipped else "open"
        if self.shipped < self.ordered:
            return "short"
        if self.shipped > self.ordered:
            return "over"
        return "matched"

    def to_dict(self, anything_shipped: bool) -> dict[str, Any]:
        def num(d: Decimal | None) -> str | None:
            return None if d is None else format(d.normalize(), "f")

        diff = None if self.ordered is None or self.shipped is None else self.shipped - self.ordered
        return {"line": self.key, "product": self.product, "description": self.description, "uom": self.uom,
                "ordered": num(self.ordered), "shipped": num(self.shipped), "difference": num(diff),
                "state": self.state(anything_shipped)}


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _ids(product: dict[str, Any] | None) -> dict[str, str]:
    product = product or {}
    return {k: str(product[k]).strip().lstrip("0") or "0" for k in PRODUCT_IDS if product.get(k)}


def _shipment_lines(rec: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for order in rec.get("orders") or []:
        out += order.get("lines") or []
    return out + list(rec.get("lines") or [])


def compare(docs: list[Doc]) -> dict[str, Any]:
    """``{"lines": [...], "summary": matched|short|over|open|none, "short": n, "over": n}``."""
    usable = [d for d in sorted(docs, key=lambda d: (d.at, d.message_id)) if d.usable()]
    lines: list[Line] = []
    ids_of: list[dict[str, str]] = []
    for doc in usable:
        for rec in doc.records:
            if isinstance(rec, dict) and rec.get("type") == "order":
                for n, ol in enumerate(rec.get("lines") or [], start=1):
                    lines.append(Line(str(ol.get("line_number") or n), ol.get("product") or {},
                                      ol.get("description"), ol.get("uom"), _dec(ol.get("quantity")), None))
                    ids_of.append(_ids(ol.get("product")))
    sources = [d for d in usable if "945" in d.sets()] or [d for d in usable if "856" in d.sets()] or \
        [d for d in usable if d.sets() - {"940", "214"}]
    has_order = bool(lines)
    anything = False
    for doc in sources:
        for rec in doc.records:
            if not (isinstance(rec, dict) and rec.get("type") == "shipment"):
                continue
            for n, sl in enumerate(_shipment_lines(rec), start=1):
                qty = _dec(sl.get("quantity_shipped"))
                if qty is None:
                    continue
                anything = True
                ids = _ids(sl.get("product"))
                number = str(sl.get("line_number") or n)
                match = None
                for i, known in enumerate(ids_of):
                    if any(known.get(k) == v for k, v in ids.items()):
                        match = i
                        break
                if match is None and not ids:
                    match = next((i for i, ln in enumerate(lines) if ln.key == number), None)
                if match is None:
                    # with no order on the timeline, the 945's own ordered quantity (W12-02) is the reference
                    ordered = None if has_order else _dec(sl.get("quantity_ordered"))
                    lines.append(Line(number, sl.get("product") or {}, sl.get("description"), sl.get("uom"),
                                      ordered, qty))
                    ids_of.append(ids)
                else:
                    lines[match].shipped = (lines[match].shipped or Decimal(0)) + qty
    out: list[dict[str, Any]] = [ln.to_dict(anything) for ln in lines]
    states = {o["state"] for o in out}
    short = sum(1 for o in out if o["state"] == "short")
    over = sum(1 for o in out if o["state"] in ("over", "unordered"))
    summary = "none" if not out else "short" if short else "over" if over else "open" if "open" in states \
        else "matched"
    return {"summary": summary, "short": short, "over": over, "lines": out}
