"""Business keys of a canonical record: the identifiers people search by (``(kind, value)`` pairs)."""

from __future__ import annotations

from gateway.canonical.models import Order, Record, Shipment, Status

KINDS = ("po", "order", "shipment", "bol", "pro", "tracking", "sscc")
_REF_KINDS = {"PO": "po", "BM": "bol", "BL": "bol", "CN": "pro", "PRO": "pro", "2I": "tracking", "CP": "tracking",
              "SI": "shipment", "DO": "order", "OQ": "order"}


def normalise_sscc(value: str | None) -> str | None:
    """An SSCC as its 18 digits: MAN*GM and N9*LV often carry it with the ``00`` application identifier."""
    if value is None:
        return None
    text = value.strip()
    if len(text) == 20 and text.startswith("00") and text.isdigit():
        return text[2:]
    return text


def business_keys(record: Record) -> list[tuple[str, str]]:
    """Distinct ``(kind, value)`` pairs, kinds among :data:`KINDS`, in a stable order."""
    keys: dict[tuple[str, str], None] = {}  # an ordered set: first-seen order, constant-time membership

    def add(kind: str, value: str | None) -> None:
        if value is not None and (v := value.strip()):
            keys[(kind, v)] = None

    def refs(references: list) -> None:
        for ref in references:
            kind = _REF_KINDS.get(ref.qualifier)
            if kind:
                add(kind, ref.value)

    if isinstance(record, Order):
        add("order", record.order_number)
        add("po", record.purchase_order)
        refs(record.references)
    elif isinstance(record, Shipment):
        add("shipment", record.shipment_id)
        add("order", record.order_number)
        add("po", record.purchase_order)
        add("bol", record.bill_of_lading)
        add("pro", record.pro_number)
        refs(record.references)
        for order in record.orders:
            add("po", order.purchase_order)
            add("order", order.order_number)
            refs(order.references)
        for package in record.packages:
            add("sscc", normalise_sscc(package.sscc))
            add("tracking", package.tracking_number)
            if package.license_plate and normalise_sscc(package.license_plate) != package.license_plate:
                add("sscc", normalise_sscc(package.license_plate))
    elif isinstance(record, Status):
        add("pro", record.reference)
        add("shipment", record.shipment_id)
        refs(record.references)
        for event in record.events:
            refs(event.references)
    return list(keys)
