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
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.partners.channels import (  # noqa: F401 - re-exported for transports
    As2Channel,
    Channel,
    FolderChannel,
    SftpChannel,
    WebhookChannel,
)

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


class DocumentSpec(_Strict):
    set_id: str = Field(pattern=r"^\d{3}$", description="X12 transaction set id: 940, 945, 856, 214 ...")
    direction: Literal["inbound", "outbound"]
    version: str = Field("004010", description="GS08 version, e.g. 004010, 004010VICS, 005010")
    mapping: str | None = None


class AckPolicy(_Strict):
    send: Literal["auto", "997", "999", "none"] = Field(
        "auto", description="auto: 997 for 004010-family groups, 999 for 005010"
    )
    ta1: Literal["on_request", "always", "never"] = "on_request"


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
        return self

    def channels_for(self, direction: str, type_: str | None = None) -> list[Channel]:
        """Channels usable in ``direction`` (``both`` counts for each), optionally of one type."""
        return [
            c
            for c in self.channels
            if (c.direction == direction or c.direction == "both") and (type_ is None or c.type == type_)
        ]
