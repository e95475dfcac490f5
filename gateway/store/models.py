"""Audit store tables (SQLModel). The schema itself changes only through migrations in ``migrations/``.

A *message* is one received or produced item (a file, an AS2 message, a webhook body). Its payload lives in the
archive (``archive_key``); the store keeps metadata, the X12 lineage (interchange -> group -> transaction set),
the timeline of events and the acknowledgement links between messages.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Text, UniqueConstraint, literal_column, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel

from gateway.store.states import (  # noqa: F401 -- the store's vocabulary, defined without SQLAlchemy
    AckStatus,
    ApiRole,
    DeliveryStatus,
    Direction,
    MessageStatus,
    ValidationStatus,
)
from gateway.store.types import UTCDateTime, utcnow

TERMINAL = frozenset(
    {
        MessageStatus.acked,
        MessageStatus.processed,
        MessageStatus.failed,
        MessageStatus.quarantined,
        MessageStatus.duplicate,
        MessageStatus.unmatched,
        MessageStatus.sent,
        MessageStatus.delivered,
        MessageStatus.dead,
    }
)


# The background jobs' work queues: three partial indexes (migration 0023) hold only the inbound messages not
# released to the hand-off yet, the messages in a non-final status and As2Sender's messages sent and awaiting an
# asynchronous MDN, so that a periodic job reads its pending work, not the archive. A query uses one only when its
# WHERE repeats the index's condition, values as literals (a bound parameter hides the value from PostgreSQL's
# generic plans): filter with INBOUND, UNFINISHED_IN, SENT and AS2_OUT below.
UNFINISHED_STATUSES = tuple(s.value for s in MessageStatus if s not in TERMINAL)
_UNRELEASED = text("handoff_status IS NULL AND direction = 'inbound'")
_UNFINISHED = text(f"status IN ({', '.join(repr(s) for s in UNFINISHED_STATUSES)})")
_AS2_AWAITING = text("status = 'sent' AND idempotency_key LIKE 'as2-out:%'")
INBOUND: ColumnElement[Any] = literal_column("'inbound'")  # message.direction == INBOUND, written as a literal
# message.status == SENT and message.idempotency_key.like(AS2_OUT): As2Sender's messages awaiting an async MDN
SENT: ColumnElement[Any] = literal_column("'sent'")
AS2_OUT: ColumnElement[Any] = literal_column("'as2-out:%'")
# message.status.in_(UNFINISHED_IN): the non-final statuses, written as literals
UNFINISHED_IN: list[ColumnElement[Any]] = [literal_column(repr(s)) for s in UNFINISHED_STATUSES]


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_partner_created", "partner_id", "created_at"),
        Index("ix_message_direction_created", "direction", "created_at"),
        Index("ix_message_status_created", "status", "created_at"),
        Index("ix_message_ack_status_due", "ack_status", "ack_due_at"),
        Index("ix_message_delivery_status", "delivery_status"),
        # PostgreSQL only (migration 0022): its de-duplicated b-trees count a direction or a status cheaply; on
        # SQLite the composite indexes above serve every query and these cost every insert and status change
        Index("ix_message_direction", "direction").ddl_if(dialect="postgresql"),
        Index("ix_message_status", "status").ddl_if(dialect="postgresql"),
        # direction leads though the condition fixes it: without statistics SQLite then prefers it to
        # ix_message_direction_created (two key columns matched against one)
        Index("ix_message_unreleased", "direction", "status", "id",
              sqlite_where=_UNRELEASED, postgresql_where=_UNRELEASED),
        Index("ix_message_unfinished", "direction", "id", sqlite_where=_UNFINISHED, postgresql_where=_UNFINISHED),
        Index("ix_message_as2_awaiting", "direction", "status", sqlite_where=_AS2_AWAITING,
              postgresql_where=_AS2_AWAITING),
    )

    id: int | None = Field(default=None, primary_key=True)
    # enums are stored as plain strings so that adding a state is not a schema change
    direction: Direction = Field(sa_type=String(16))
    status: MessageStatus = Field(sa_type=String(24))
    partner_id: str | None = Field(default=None, index=True)
    channel: str | None = None  # e.g. "acme-retail/folder-in"
    transport_id: str | None = Field(default=None, index=True)  # remote path, AS2 Message-ID, webhook delivery id
    idempotency_key: str | None = Field(default=None, unique=True)
    file_name: str | None = None
    content_type: str | None = None
    document_format: str | None = None  # "x12", "csv", "json", ...
    set_ids: str | None = None  # transaction set ids in file order, comma separated (display only)
    size: int = 0
    sha256: str = Field(index=True, max_length=64)
    archive_key: str | None = None
    reason: str | None = None  # one line a support person understands
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    correlation_id: str | None = None
    created_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # payload removed from the archive
    # -- added by migration 0003: outbound documents (NULL where they do not apply) --
    validation_status: str | None = Field(default=None, sa_type=String(16))  # ValidationStatus
    delivery_status: str | None = Field(default=None, sa_type=String(16))  # DeliveryStatus
    ack_status: str | None = Field(default=None, sa_type=String(24))  # AckStatus
    ack_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # when the partner's ack is overdue
    # -- added by migration 0009: hand-off to internal systems (HandoffStatus; NULL: not released yet) --
    handoff_status: str | None = Field(default=None, sa_type=String(16))
    # -- added by migration 0013: who works on the message now (node id) and until when (gateway/store/leases.py) --
    lease_owner: str | None = Field(default=None, sa_type=String(64))
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # -- added by migration 0025: a reading that writes the message's business keys ahead of its step (a large
    # file's, gateway.flows.batching.KeyTap) and has not settled yet: the message's highest key id before it began.
    # The keys above it are that reading's, deleted if it is refused (gateway/store/records.py); NULL: none --
    unsettled_keys_after: int | None = Field(default=None, sa_type=BigInteger)


class Event(SQLModel, table=True):
    """One step on a message's timeline."""

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    at: datetime = _ts()
    name: str  # dotted verb: message.received, message.archived, ack.sent ...
    status: MessageStatus | None = Field(default=None, sa_type=String(24))  # the status this step set, if any
    actor: str = "gateway"  # "gateway", or the API key / user who asked
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class Interchange(SQLModel, table=True):
    __tablename__ = "interchange"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    position: int  # 1-based order in the file
    sender_qualifier: str | None = None
    sender_id: str | None = Field(default=None, index=True)
    receiver_qualifier: str | None = None
    receiver_id: str | None = None
    control_number: str | None = Field(default=None, index=True)
    version: str | None = None
    usage: str | None = None  # ISA15 P / T
    date: str | None = None
    time: str | None = None


class FunctionalGroup(SQLModel, table=True):
    __tablename__ = "functional_group"

    id: int | None = Field(default=None, primary_key=True)
    interchange_id: int = Field(foreign_key="interchange.id", index=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    functional_id: str | None = None
    sender_id: str | None = None
    receiver_id: str | None = None
    control_number: str | None = Field(default=None, index=True)
    version: str | None = None


class TransactionSet(SQLModel, table=True):
    __tablename__ = "transaction_set"

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="functional_group.id", index=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    set_id: str = Field(index=True)
    control_number: str | None = Field(default=None, index=True)
    segment_count: int | None = None
    valid: bool = True
    ack_code: str | None = None  # A / E / R as acknowledged by us (inbound) or the partner (outbound)


class AckLink(SQLModel, table=True):
    """Message ``ack_message_id`` acknowledges message ``message_id`` (a 997/999/TA1 or an MDN)."""

    __tablename__ = "ack_link"
    __table_args__ = (UniqueConstraint("ack_message_id", "message_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    ack_message_id: int = Field(foreign_key="message.id", index=True)
    kind: str  # "997", "999", "TA1", "MDN"
    result: str | None = None  # A, E, R, P / processed, failed ...
    created_at: datetime = _ts()


class ControlCounter(SQLModel, table=True):
    """Last control number used, per scope (partner) and kind (interchange / group / transaction)."""

    __tablename__ = "control_counter"

    scope: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    value: int = 0


# -- added by migration 0002 -------------------------------------------------------------------------------------


class BusinessKeyKind(StrEnum):
    """What a business key is. ``file`` is the message's file name, recorded so free text finds it too."""

    po = "po"  # purchase order number
    order = "order"  # depositor / customer order number
    shipment = "shipment"  # shipment id (BSN02, W06-04, B10-02)
    bol = "bol"  # bill of lading
    pro = "pro"  # carrier PRO number
    tracking = "tracking"  # parcel tracking number
    sscc = "sscc"  # serial shipping container code (MAN*GM)
    file = "file"


class BusinessKey(SQLModel, table=True):
    """A reference number found in (or mapped from) a message; what support staff search by."""

    __tablename__ = "business_key"
    # the unique constraint's index serves lookups by message_id; ix_business_key_value serves exact searches
    __table_args__ = (
        UniqueConstraint("message_id", "kind", "value"),
        Index("ix_business_key_value", "value"),
        Index("ix_business_key_norm", "norm"),  # migration 0012: the join of orders and shipments
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id")
    kind: str = Field(sa_type=String(16))
    value: str = Field(sa_type=String(128))
    norm: str | None = Field(default=None, sa_type=String(128))  # gateway.business.keys.normalise (0012)


class DeliveryAttempt(SQLModel, table=True):
    """One try at handing an outbound message to one channel."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    channel: str | None = None
    started_at: datetime = _ts()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(sa_type=String(16))  # "sent", "failed", "retrying"
    transport_id: str | None = None  # remote path, AS2 Message-ID ...
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    actor: str = "gateway"


class OutputKind(StrEnum):
    canonical = "canonical"  # the canonical records (JSON) the mapping layer produced from the message
    x12 = "x12"
    csv = "csv"
    json = "json"
    xml = "xml"
    other = "other"


class Output(SQLModel, table=True):
    """A file produced from a message (canonical records, a mapped document); its bytes are in the archive."""

    __tablename__ = "output"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    kind: str = Field(sa_type=String(16))
    archive_key: str = Field(max_length=64)
    sha256: str = Field(max_length=64)
    size: int = 0
    content_type: str | None = None
    file_name: str | None = None
    created_at: datetime = _ts()
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


ROLE_RANK = {ApiRole.viewer: 1, ApiRole.operator: 2, ApiRole.admin: 3}


class ApiKey(SQLModel, table=True):
    """An API key. Only the SHA-256 of the token is stored; the token is shown once, at creation."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(64), unique=True)
    role: str = Field(sa_type=String(16))
    key_hash: str = Field(sa_type=String(64), unique=True)
    prefix: str = Field(sa_type=String(16))  # the first characters of the token, to tell keys apart
    created_at: datetime = _ts()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# -- 64-bit ids (migration 0004) ----------------------------------------------------------------------------------
# Every id, and every column holding one, is BIGINT on PostgreSQL (SQLite's INTEGER is already 64-bit and must stay
# INTEGER for its rowid primary keys). Set here, in one block, rather than on each field: the PostgreSQL driver
# casts bound parameters to the column's type, so the model must say BIGINT for a large id to reach the query.
ID64 = BigInteger().with_variant(Integer(), "sqlite")
for _model, _columns in (
    (Message, ("id", "size")),
    (Event, ("id", "message_id")),
    (Interchange, ("id", "message_id")),
    (FunctionalGroup, ("id", "interchange_id", "message_id")),
    (TransactionSet, ("id", "group_id", "message_id")),
    (AckLink, ("id", "message_id", "ack_message_id")),
    (BusinessKey, ("id", "message_id")),
    (DeliveryAttempt, ("id", "message_id")),
    (Output, ("id", "message_id", "size")),
):
    for _name in _columns:
        _model.__table__.c[_name].type = ID64  # type: ignore[attr-defined,union-attr]
# -- added by migration 0006: AS2 transmissions -----------------------------------------------------------------


class As2TransmissionState(StrEnum):
    built = "built"  # the request is archived; not POSTed yet (or a crash came between the POST and its answer)
    retrying = "retrying"  # the last POST failed transiently: the next attempt sends the same bytes
    awaiting_mdn = "awaiting_mdn"  # POSTed; an asynchronous MDN is expected by mdn_due_at
    overdue = "overdue"  # no asynchronous MDN by mdn_due_at (a late one is still applied)
    delivered = "delivered"  # positive MDN with our MIC, or HTTP 2xx when no MDN was asked for
    rejected = "rejected"  # negative MDN, MIC mismatch, or an MDN that does not verify
    failed = "failed"  # the partner's server refused the request (HTTP 4xx): a resend builds a new message


class As2Transmission(SQLModel, table=True):
    """One AS2 message we built for an outbound message: the exact request (archived once), the options it was
    built with (MDN mode, MIC and algorithm, the certificates that verify its MDN) and where its MDN stands. A
    retry POSTs the archived request again (same Message-ID, RFC 4130 sec. 5.5) and checks the MDN against
    ``options``, never against the partner file as it is now."""

    __tablename__ = "as2_transmission"
    __table_args__ = (Index("ix_as2_transmission_state_due", "state", "mdn_due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)  # the outbound document
    channel: str = Field(sa_type=String(200))  # "<partner>/<channel name>"
    delivery_key: str = Field(sa_type=String(300), index=True)  # the same document on the same channel
    as2_message_id: str = Field(sa_type=String(255), unique=True)
    request_archive_key: str = Field(max_length=64)  # headers + body exactly as POSTed (gateway.as2.mime.frame)
    payload_sha256: str = Field(max_length=64)
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    state: str = Field(sa_type=String(16))  # As2TransmissionState
    attempts: int = 0
    mdn_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    mdn_message_id: int | None = Field(default=None, foreign_key="message.id")  # the MDN as an inbound message
    last_error: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
# -- added by migration 0011 -------------------------------------------------------------------------------------


class AttentionResolution(SQLModel, table=True):
    """A support person resolved a worklist item (message + kind). The item comes back when the message changes
    after ``resolved_at`` (e.g. a reprocess fails again)."""

    __tablename__ = "attention_resolution"
    __table_args__ = (Index("ix_attention_resolution_message_kind", "message_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id")
    kind: str = Field(sa_type=String(16))
    resolved_at: datetime = _ts()
    actor: str = Field(sa_type=String(128))
    note: str = Field(sa_type=String(2000))
# -- added by migration 0009: hand-off to internal systems -----------------------------------------------------


class HandoffStatus(StrEnum):
    """A message's hand-off, derived from its records' deliveries (``Message.handoff_status``)."""

    unrouted = "unrouted"  # released, but no route matches a record: it waits for a route and a replay
    pending = "pending"  # deliveries in progress (or waiting in a pull inbox)
    retrying = "retrying"  # a destination failed; another try is scheduled
    delivered = "delivered"  # every record reached every destination (pull: confirmed)
    dead = "dead"  # a destination's retries are exhausted: replay after fixing it
    skipped = "skipped"  # nothing to hand off (no record mapped, or received before hand-off existed)


class DeliveryState(StrEnum):
    """One record on its way to one destination (``Handoff.status``)."""

    pending = "pending"
    retrying = "retrying"
    available = "available"  # in a pull inbox, not yet confirmed
    delivered = "delivered"
    dead = "dead"


class Handoff(SQLModel, table=True):
    """The outbox: one event (a record, or an acknowledgement outcome) for one destination; claimed by a sweep."""

    __tablename__ = "handoff"
    __table_args__ = (
        UniqueConstraint("event_id", "destination"),
        Index("ix_handoff_status_due", "status", "due_at"),
        Index("ix_handoff_lane", "lane", "status", "id"),  # claims look for open rows per lane, in id order
        Index("ix_handoff_destination_status", "destination", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(sa_type=String(64))
    destination: str = Field(sa_type=String(64))
    lane: str = Field(sa_type=String(160))  # destination + partner: delivered in id order within a lane
    message_id: int = Field(foreign_key="message.id", index=True)
    position: int = 0
    partner_id: str | None = Field(default=None, sa_type=String(64))
    event_type: str = Field(sa_type=String(48))
    record_type: str = Field(sa_type=String(16))
    set_id: str | None = Field(default=None, sa_type=String(16))
    status: str = Field(sa_type=String(16))  # DeliveryState
    attempts: int = 0
    due_at: datetime = _ts()
    lease_owner: str | None = Field(default=None, sa_type=String(64))
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    body: str = Field(sa_column=Column(Text, nullable=False))  # the event's JSON
    last_error: str | None = None
    created_at: datetime = _ts()
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
# -- added by migration 0008: notifications sent (deduplication across restarts and nodes) ----------------------
class NotificationSent(SQLModel, table=True):
    """One notice (kind + key, e.g. certificate_expiry + the certificate's file and expiry day) and when it last
    went out. A notice goes out again only after the ``repeat_hours`` setting; ``suppressed`` counts repeats."""

    __tablename__ = "notification_sent"
    __table_args__ = (UniqueConstraint("kind", "dedup_key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(40))
    dedup_key: str = Field(sa_type=String(255))
    first_at: datetime = _ts()
    last_sent_at: datetime = _ts()
    suppressed: int = 0
# -- added by migration 0012: business objects (orders, shipments) and service-level breaches -------------------


class BusinessObject(SQLModel, table=True):
    """An order or a shipment: the messages sharing its normalised key (gateway.business), kept for listing and for
    the service-level job (``check_due_at``, claimed with a lease)."""

    __tablename__ = "business_object"
    __table_args__ = (
        UniqueConstraint("kind", "norm"),
        Index("ix_business_object_kind_last", "kind", "last_at"),
        Index("ix_business_object_stage", "kind", "stage", "last_at"),
        Index("ix_business_object_partner", "kind", "partner_id", "last_at"),
        Index("ix_business_object_due", "check_due_at"),
        # migration 0017: the listing of objects that missed a service level (?breached=true)
        Index("ix_business_object_breached", "kind", "last_at", postgresql_where=text("breaches > 0"),
              sqlite_where=text("breaches > 0")),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(16))  # order, shipment
    norm: str = Field(sa_type=String(128))
    key: str = Field(sa_type=String(128))  # as first written
    partner_id: str | None = Field(default=None, sa_type=String(64))  # of its first message
    stage: str = Field(default="ordered", sa_type=String(16))
    first_at: datetime = _ts()
    last_at: datetime = _ts()
    breaches: int = 0
    check_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, sa_type=String(64))
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SlaBreach(SQLModel, table=True):
    """A service level an order or shipment missed; ``message_id`` is the document its window started at (the
    worklist item). ``announced_at``: the hand-off event and the notification went out."""

    __tablename__ = "sla_breach"
    __table_args__ = (UniqueConstraint("object_id", "level"), Index("ix_sla_breach_message", "message_id"))

    id: int | None = Field(default=None, primary_key=True)
    object_id: int = Field(foreign_key="business_object.id")
    message_id: int = Field(foreign_key="message.id")
    partner_id: str | None = Field(default=None, sa_type=String(64))
    level: str = Field(sa_type=String(140))  # partner:name
    kind: str = Field(sa_type=String(16))  # missing, late
    detected_at: datetime = _ts()
    due_at: datetime = Field(sa_type=UTCDateTime)
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    announced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class GatewayNode(SQLModel, table=True):
    """One ``gateway serve`` process sharing the store: registered at start, its heartbeat renewed while it runs
    (gateway/store/nodes.py)."""

    __tablename__ = "gateway_node"

    node_id: str = Field(primary_key=True, sa_type=String(64))
    host: str = Field(sa_type=String(255))
    pid: int
    version: str = Field(sa_type=String(32))
    started_at: datetime = _ts()
    last_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # a clean stop; null while running
    working: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # jobs running, leases held


BusinessObject.__table__.c["id"].type = ID64  # type: ignore[attr-defined]
for _name in ("id", "object_id", "message_id"):
    SlaBreach.__table__.c[_name].type = ID64  # type: ignore[attr-defined]


# -- 64-bit ids of the tables added after migration 0004 (0006, 0009, 0011 create them BIGINT on PostgreSQL) -------
_LATER: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (As2Transmission, ("id", "message_id", "mdn_message_id")),
    (Handoff, ("id", "message_id")),
    (AttentionResolution, ("id", "message_id")),
)
for _later, _names in _LATER:
    for _name in _names:
        _later.__table__.c[_name].type = ID64
