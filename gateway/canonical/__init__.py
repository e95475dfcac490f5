"""Canonical records (see :mod:`.models`) and their business keys (see :mod:`.keys`)."""

from gateway.canonical.keys import business_keys
from gateway.canonical.models import (
    RECORD_TYPES,
    Carrier,
    Contact,
    DateValue,
    Location,
    Note,
    Order,
    OrderLine,
    Package,
    Party,
    ProductIds,
    Record,
    Reference,
    Shipment,
    ShipmentLine,
    ShipmentOrder,
    Status,
    StatusEvent,
)

__all__ = [
    "RECORD_TYPES", "Carrier", "Contact", "DateValue", "Location", "Note", "Order", "OrderLine", "Package", "Party",
    "ProductIds", "Record", "Reference", "Shipment", "ShipmentLine", "ShipmentOrder", "Status", "StatusEvent",
    "business_keys", "parse_record",
]


def parse_record(data: dict) -> Record:
    """A record from its JSON form, chosen by ``type``."""
    from gateway.errors import MappingError

    kind = data.get("type") if isinstance(data, dict) else None
    model = RECORD_TYPES.get(str(kind))
    if model is None:
        raise MappingError(f"unknown canonical record type {kind!r}", hint="use order, shipment or status")
    return model.model_validate(data)
