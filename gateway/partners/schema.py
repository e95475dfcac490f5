"""The partner file: one YAML file per trading partner in ``partners/``, validated here (unknown keys refused).

A minimal example::

    id: harbor-3pl
    name: Harbor 3PL Warehousing
    role: warehouse
    identity:
      interchange_ids: [{qualifier: ZZ, id: SENDER}]
    our_ids: [{qualifier: ZZ, id: RECEIVER}]      # how this partner addresses us (default: config identity)
    channels:
      - {name: inbox, type: folder, direction: inbound, path: partners/harbor-3pl/inbound}
      - {name: outbox, type: folder, direction: outbound, path: partners/harbor-3pl/outbound}
    documents:
      - {set_id: "856", direction: inbound}
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.partners.channels import (  # noqa: F401 - re-exported for transports
    As2Channel,
    Channel,
    FolderChannel,
    SftpChannel,
    WebhookChannel,
)
from gateway.partners.types import Duration

PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InterchangeId(_Strict):
    """An ISA qualifier (ISA05/ISA07) and id (ISA06/ISA08)."""

    qualifier: str = Field(min_length=2, max_length=2, description="ISA05/ISA07, e.g. ZZ, 01, 08, 12")
    id: str = Field(min_length=1, max_length=15, description="ISA06/ISA08 without the padding")

    @field_validator("id")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("the interchange id is blank")
        return v

    def __str__(self) -> str:
        return f"{self.qualifier}/{self.id}"


class Identity(_Strict):
    interchange_ids: list[InterchangeId] = Field(min_length=1, description="ids the partner sends from")
    application_ids: list[str] = Field(default_factory=list, description="GS02/GS03 application codes")
    as2_id: str | None = None
    usage: Literal["P", "T"] = Field("P", description="ISA15 we use when sending to them: production or test")


class AckPolicy(_Strict):
    """The acknowledgements we send for what they send us, and how long we wait for theirs."""

    send: Literal["auto", "997", "999", "none"] = Field(
        "auto", description="auto: 997 for 004010-family groups, 999 for 005010"
    )
    ta1: Literal["on_request", "always", "never"] = Field(
        "on_request", description="on_request: only when their ISA14 asks for one"
    )
    expect_ack_within: Duration | None = Field(
        None, description="for what we send: their 997/999 is overdue after this (e.g. 4h); none: do not expect"
    )
    on_overdue: Literal["alert", "resend"] = Field(
        "alert", description="when their 997/999 is overdue: alert (worklist and notification) or resend the document"
    )
    max_resends: int = Field(
        1, ge=0, le=10, description="with on_overdue: resend, resend at most this many times, then alert"
    )


class DocumentSpec(_Strict):
    """A transaction set exchanged with the partner, in one direction."""

    set_id: str | None = Field(
        None, pattern=r"^\d{3}$", description="X12 transaction set id: 940, 945, 856, 214 ..."
    )
    direction: Literal["inbound", "outbound"]
    version: str = Field(
        "004010", pattern=r"^\d{6}[A-Z0-9]{0,6}$", description="GS08 version, e.g. 004010, 004010VICS, 005010"
    )
    mapping: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        description="a mapping by name: a file under mappings/ (with or without its extension)",
    )
    code_tables: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="partner codes to ours, per table: {uom: {CA: case, EA: each}}",
    )
    ack: AckPolicy | None = Field(None, description="overrides the partner's acknowledgements for this document")
    # -- CSV and XML documents (hand-off work) --
    format: Literal["x12", "csv", "xml"] = Field(
        "x12",
        description="x12, or a CSV / XML file of canonical records (inbound: what the partner sends; outbound: "
        "x12 or csv, what we send: the set's records as CSV, mappings/csv/)",
    )
    record: Literal["order", "shipment", "status"] | None = Field(
        None, description="csv/xml: the canonical record type the file holds (its column map or XSD); "
        "default: the one set_id carries"
    )

    @model_validator(mode="after")
    def _format(self) -> DocumentSpec:
        if self.format == "x12" and self.set_id is None:
            raise ValueError("an x12 document needs set_id (940, 945, 856, 214 ...)")
        if self.format != "x12" and self.record is None:
            record = _RECORD_OF_SET.get(self.set_id or "")
            if record is None:
                raise ValueError(f"a {self.format} document needs record: order, shipment or status")
            object.__setattr__(self, "record", record)
        if self.direction == "outbound" and self.format == "xml":
            raise ValueError("outbound documents are x12 or csv")
        return self

    @property
    def label(self) -> str:
        return self.set_id if self.format == "x12" and self.set_id else f"{self.format} {self.record}"


_RECORD_OF_SET = {"940": "order", "945": "shipment", "856": "shipment", "214": "status"}


class DeclaredPolicy(_Strict):
    """What to do with an inbound transaction set the partner did not declare under ``documents``."""

    undeclared: Literal["reject", "warn"] = Field(
        "reject",
        description="a set id not declared inbound: reject (997 AK5 / 999 IK5 R, code 1, the message fails) "
        "or warn (accepted; a warning on the message's timeline)",
    )
    other_version: Literal["reject", "warn"] = Field(
        "reject",
        description="a declared set id in a GS08 version other than the declared one: reject or warn, as above",
    )


class Delimiters(_Strict):
    """Delimiters for interchanges we send this partner."""

    element: str = Field("*", min_length=1, max_length=1)
    component: str = Field(">", min_length=1, max_length=1, description="ISA16")
    repetition: str | None = Field("^", description="ISA11 from version 00402 on; none for older partners")
    segment: str = Field("~", min_length=1, max_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> Delimiters:
        used = [c for c in (self.element, self.component, self.repetition, self.segment) if c]
        if len(set(used)) != len(used):
            raise ValueError(f"the delimiters must all differ, got {used}")
        for c in used:
            if c.isalnum() or c == " ":
                raise ValueError(f"a delimiter cannot be a letter, digit or space, got {c!r}")
        return self


class EnvelopePrefs(_Strict):
    """How we envelope what we send them."""

    delimiters: Delimiters = Field(default_factory=Delimiters)
    terminator_suffix: Literal["", "\n", "\r\n"] = Field(
        "\n", description="what follows each segment terminator: nothing, LF or CR LF"
    )
    sender: InterchangeId | None = Field(
        None, description="ISA05/ISA06 we send from (default: our first id for this partner)"
    )
    receiver: InterchangeId | None = Field(
        None, description="ISA07/ISA08 we send to (default: their first interchange id)"
    )
    isa_version: str = Field("00401", pattern=r"^\d{5}$", description="ISA12")
    request_ta1: bool = Field(False, description="ISA14: ask for a TA1")
    uppercase: bool = Field(False, description="upper-case every value we write")


class RetryPolicy(_Strict):
    """How often and how patiently a failed send is retried before the message fails."""

    attempts: int = Field(5, ge=1, le=100, description="tries in all, the first included")
    backoff: Duration = Field(timedelta(seconds=30), description="wait before the second try")
    multiplier: float = Field(2.0, ge=1.0, le=10.0, description="each wait is this much longer than the last")
    max_backoff: Duration = Field(timedelta(hours=1), description="longest wait between tries")

    def delay(self, attempt: int) -> timedelta:
        """Wait after failed try number ``attempt`` (1-based)."""
        seconds = self.backoff.total_seconds() * self.multiplier ** max(attempt - 1, 0)
        return timedelta(seconds=min(seconds, self.max_backoff.total_seconds()))


class DuplicatePolicy(_Strict):
    """When an inbound interchange is a duplicate of one already received."""

    window: Duration = Field(
        timedelta(days=365), description="the same sender and ISA13 within this period is a duplicate (default 1 year)"
    )
    by_content: bool = Field(True, description="also a duplicate: the very same bytes (sha256) within the window")


class ServiceLevel(_Strict):
    """A business service level: milestone ``to`` within ``within`` of milestone ``start`` on the partner's orders and
    shipments (see docs/operations.md, "Orders and shipments")."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="unique within the partner file")
    start: Literal["ordered", "shipped", "picked_up", "first_status", "out_for_delivery"] = Field(
        description="the milestone the window starts at")
    to: Literal["shipped", "picked_up", "first_status", "out_for_delivery", "delivered"] = Field(
        description="the milestone that must follow")
    within: Duration = Field(description="e.g. 24h, 5d, 12h")


class Partner(_Strict):
    id: str = Field(description="lower-case slug, unique across partner files")
    name: str = Field(min_length=1)
    role: Literal["retailer", "warehouse", "carrier", "supplier", "customer", "other"] = "other"
    identity: Identity
    our_ids: list[InterchangeId] = Field(
        default_factory=list,
        description="the ids this partner addresses us by; default: our configured identity",
    )
    channels: list[Channel] = Field(default_factory=list)
    documents: list[DocumentSpec] = Field(default_factory=list)
    acknowledgements: AckPolicy = Field(default_factory=AckPolicy)
    reading: Literal["strict", "tolerant"] = Field("tolerant", description="tolerant: sloppy envelopes warn")
    envelope: EnvelopePrefs = Field(default_factory=EnvelopePrefs)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    declared: DeclaredPolicy = Field(
        default_factory=DeclaredPolicy,
        description="inbound sets or versions not listed under documents: reject (the default) or warn",
    )
    duplicates: DuplicatePolicy = Field(default_factory=DuplicatePolicy)
    service_levels: list[ServiceLevel] = Field(
        default_factory=list, description="business service levels watched on this partner's orders and shipments")

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not PARTNER_ID.match(v):
            raise ValueError("use lower-case letters, digits, '.', '_' or '-' (at most 63), e.g. acme-retail")
        return v

    @model_validator(mode="after")
    def _unique_channel_names(self) -> Partner:
        seen: set[str] = set()
        for ch in self.channels:
            if ch.name in seen:
                raise ValueError(f"two channels are named {ch.name!r}: channel names must be unique")
            seen.add(ch.name)
        levels: set[str] = set()
        for lv in self.service_levels:
            if lv.name in levels:
                raise ValueError(f"two service levels are named {lv.name!r}: their names must be unique")
            levels.add(lv.name)
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Partner:
        seen: set[tuple[str, str, str]] = set()
        for d in self.documents:
            key = (d.set_id or f"{d.format}:{d.record}", d.version, d.direction)
            if key in seen:
                raise ValueError(f"document {d.label} {d.version} {d.direction} is listed twice")
            seen.add(key)
        ids = {ch.as2_id for ch in self.channels if isinstance(ch, As2Channel)}
        if self.identity.as2_id and ids and ids != {self.identity.as2_id}:
            raise ValueError(
                f"identity.as2_id {self.identity.as2_id!r} differs from the AS2 channel's as2_id "
                f"{', '.join(sorted(ids))}: they name the same partner, make them equal (or drop identity.as2_id)"
            )
        return self

    @property
    def as2_ids(self) -> set[str]:
        ids = {ch.as2_id for ch in self.channels if isinstance(ch, As2Channel)}
        return ids | ({self.identity.as2_id} if self.identity.as2_id else set())

    def ack_policy(self, set_id: str | None = None, version: str | None = None) -> AckPolicy:
        """The policy for an inbound document (its own ``ack`` override, else the partner's)."""
        for d in self.documents:
            if d.direction == "inbound" and d.set_id == set_id and d.ack and version in (None, d.version):
                return d.ack
        return self.acknowledgements

    def ack_policy_for(self, sets: Iterable[tuple[str, str | None]]) -> AckPolicy:
        """The policy for an interchange holding these (set id, GS08 version) pairs: a document override
        applies when every set in it resolves to the same policy; otherwise the partner's policy."""
        policies = {self.ack_policy(set_id, version) for set_id, version in sets}
        return policies.pop() if len(policies) == 1 else self.acknowledgements

    def document(self, set_id: str, direction: str, version: str | None = None) -> DocumentSpec | None:
        for d in self.documents:
            if d.set_id == set_id and d.direction == direction and (version is None or version == d.version):
                return d
        return None

    def channels_for(self, direction: str, type_: str | None = None) -> list[Channel]:
        """Channels usable in ``direction`` (``both`` counts for each), optionally of one type."""
        return [
            c
            for c in self.channels
            if (c.direction == direction or c.direction == "both") and (type_ is None or c.type == type_)
        ]
