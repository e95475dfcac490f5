"""The canonical records: what the systems behind the gateway read and write, whatever the partner speaks.

Three record types, one per business document family::

    Order     (type "order")     <-> X12 940 (warehouse shipping order)
    Shipment  (type "shipment")  <-> X12 945 (warehouse shipping advice) and 856 (ship notice)
    Status    (type "status")    <-> X12 214 (carrier shipment status)

Conventions: every field is optional except the record's ``type``, because real documents leave things out and
the mapping layer reports a missing *required* value as a :class:`~gateway.errors.MappingError` instead of
inventing one. Dates are ISO 8601 text (``2024-03-01``, ``2024-03-01T08:30:00`` or with an offset when the
source gives a time zone); quantities and weights are :class:`~decimal.Decimal` (written as JSON strings, so
``"12.500"`` stays exact). Identifiers are always text (leading zeros kept). Unknown qualifiers are never
dropped: product identifiers without a readable name go to ``ProductIds.other``, dates to ``dates`` and
references to ``references`` with their X12 qualifier.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$",
                               description="ISO 8601 date or date-time (with offset when the source gave a zone)")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Party(_Model):
    """A name-and-address block (X12 N1 loop)."""

    role: str | None = Field(None, description="ship_to, ship_from, bill_to, buyer, seller, warehouse, carrier, "
                                               "shipper, consignee... or the X12 entity code when unknown")
    name: str | None = None
    id_qualifier: str | None = None
    id: str | None = None
    additional_names: list[str] = Field(default_factory=list, description="N2 name lines")
    address_lines: list[str] = Field(default_factory=list)
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    contacts: list[Contact] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    dates: list[DateValue] = Field(default_factory=list)


class Contact(_Model):
    """A contact (X12 PER)."""

    function: str | None = None
    name: str | None = None
    phone: str | None = None
    fax: str | None = None
    email: str | None = None
    other: dict[str, str] = Field(default_factory=dict, description="other communication numbers by qualifier")


class Reference(_Model):
    """An identifier with its qualifier (X12 N9, REF, L11)."""

    qualifier: str
    value: str | None = None
    description: str | None = None


class DateValue(_Model):
    """A date that has no dedicated field, with its X12 qualifier (G62, DTM)."""

    qualifier: str
    value: IsoDate


class Note(_Model):
    code: str | None = None
    text: str


class ProductIds(_Model):
    """Product identifiers under readable names; ``other`` keeps qualifiers without one (qualifier -> id)."""

    sku: str | None = None
    upc: str | None = None
    case_upc: str | None = Field(default=None, description="U.P.C. case code (940 W01-03, 945 W12-06)")
    gtin: str | None = None
    vendor_part: str | None = None
    buyer_part: str | None = None
    other: dict[str, str] = Field(default_factory=dict)


class Carrier(_Model):
    scac: str | None = None
    id_qualifier: str | None = Field(None, description="856 TD5-02: what kind of id `scac` is (2 = SCAC)")
    service: str | None = None
    name: str | None = None
    payment: str | None = None
    mode: str | None = None


class OrderLine(_Model):
    line_number: str | None = None
    product: ProductIds = Field(default_factory=lambda: ProductIds())
    quantity: Decimal | None = None
    uom: str | None = None
    lot: str | None = None
    description: str | None = None
    references: list[Reference] = Field(default_factory=list)
    dates: list[DateValue] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)


class Order(_Model):
    """A warehouse shipping order (X12 940)."""

    type: Literal["order"] = "order"
    order_number: str | None = Field(None, description="W05-02 depositor order number")
    purchase_order: str | None = Field(None, description="W05-03")
    purpose: str | None = Field(None, description="new, replace, cancel... or the X12 code when unknown")
    master_reference: str | None = Field(None, description="W05-05 master reference (link) number")
    link_sequence: str | None = Field(None, description="W05-04 link sequence number")
    parties: list[Party] = Field(default_factory=list)
    requested_ship_date: IsoDate | None = None
    requested_delivery_date: IsoDate | None = None
    dates: list[DateValue] = Field(default_factory=list)
    carrier: Carrier | None = None
    references: list[Reference] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    lines: list[OrderLine] = Field(default_factory=list)
    total_quantity: Decimal | None = None
    total_weight: Decimal | None = None
    weight_uom: str | None = None


class ShipmentLine(_Model):
    line_number: str | None = None
    product: ProductIds = Field(default_factory=lambda: ProductIds())
    quantity_shipped: Decimal | None = None
    quantity_ordered: Decimal | None = None
    uom: str | None = None
    quantity_difference: Decimal | None = None
    status: str | None = None
    description: str | None = None
    lot: str | None = None
    weight: Decimal | None = None
    weight_qualifier: str | None = None
    weight_uom: str | None = None
    package: str | None = Field(None, description="the sscc or tracking number of the package holding this line")
    references: list[Reference] = Field(default_factory=list)


class ShipmentOrder(_Model):
    purchase_order: str | None = None
    order_number: str | None = None
    purchase_order_date: IsoDate | None = None
    references: list[Reference] = Field(default_factory=list)
    parties: list[Party] = Field(default_factory=list)
    lines: list[ShipmentLine] = Field(default_factory=list)


class Package(_Model):
    """A carton, pallet or tare (856 P/T level, 945 W12 N9*LV)."""

    level: str | None = Field(None, description="pallet (856 T level) or pack (P level)")
    sscc: str | None = None
    tracking_number: str | None = None
    license_plate: str | None = Field(None, description="warehouse license plate (945 N9*LV): an SSCC or own id")
    parent: str | None = Field(None, description="sscc or tracking number of the enclosing pallet")
    weight: Decimal | None = None
    weight_uom: str | None = None
    packaging: str | None = None
    description: str | None = None
    line_number: str | None = Field(None, description="945: the line (LX) this package belongs to")


class Shipment(_Model):
    """A shipment notice (X12 856) or warehouse shipping advice (X12 945)."""

    type: Literal["shipment"] = "shipment"
    shipment_id: str | None = Field(None, description="BSN-02 / W06-04")
    purpose: str | None = Field(None, description="BSN-01 / W06-01 as a readable word or the code")
    ship_date: IsoDate | None = None
    document_date: IsoDate | None = None
    order_number: str | None = Field(None, description="W06-02")
    purchase_order: str | None = Field(None, description="W06-06")
    master_reference: str | None = Field(None, description="W06-07")
    link_sequence: str | None = Field(None, description="W06-08")
    bill_of_lading: str | None = None
    pro_number: str | None = None
    carrier: Carrier | None = None
    parties: list[Party] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    dates: list[DateValue] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    total_packages: Decimal | None = None
    packaging: str | None = None
    total_weight: Decimal | None = None
    weight_uom: str | None = None
    total_quantity: Decimal | None = None
    equipment: str | None = None
    orders: list[ShipmentOrder] = Field(default_factory=list)
    packages: list[Package] = Field(default_factory=list)


class Location(_Model):
    city: str | None = None
    state: str | None = None
    country: str | None = None


class StatusEvent(_Model):
    status_code: str | None = Field(None, description="AT7-01")
    reason_code: str | None = Field(None, description="AT7-02")
    appointment_code: str | None = Field(None, description="AT7-03")
    appointment_reason: str | None = Field(None, description="AT7-04")
    timestamp: IsoDate | None = None
    location: Location | None = None
    equipment: str | None = Field(None, description="MS2-02 equipment number (MS2-01 owner SCAC prefixed)")
    equipment_owner: str | None = None
    equipment_type: str | None = None
    stop: str | None = Field(None, description="LX-01 assigned number of the stop")
    references: list[Reference] = Field(default_factory=list)
    weight: Decimal | None = None
    weight_qualifier: str | None = None
    weight_uom: str | None = None
    lading_quantity: Decimal | None = None
    lading_exception: str | None = None
    quantity_shipped: Decimal | None = None
    quantity_uom: str | None = None


class Status(_Model):
    """A carrier shipment status (X12 214)."""

    type: Literal["status"] = "status"
    reference: str | None = Field(None, description="B10-01 carrier's reference (PRO) number")
    shipment_id: str | None = Field(None, description="B10-02 shipment identification number")
    carrier_scac: str | None = Field(None, description="B10-03")
    references: list[Reference] = Field(default_factory=list)
    parties: list[Party] = Field(default_factory=list)
    events: list[StatusEvent] = Field(default_factory=list)


Record = Order | Shipment | Status
RECORD_TYPES: dict[str, type[Order] | type[Shipment] | type[Status]] = {
    "order": Order, "shipment": Shipment, "status": Status,
}

Party.model_rebuild()
