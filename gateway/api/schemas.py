"""API answer models. They name every field explicitly: nothing from the store leaks by accident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.store.models import AckLink, Event, Message
from gateway.store.repository import Lineage, Store


class MessageSummary(BaseModel):
    id: int
    direction: str
    status: str
    partner_id: str | None
    channel: str | None
    file_name: str | None
    document_format: str | None
    set_ids: list[str]
    size: int
    sha256: str
    reason: str | None
    created_at: datetime
    updated_at: datetime
    purged_at: datetime | None = Field(None, description="when the payload was removed from the archive")
    # outbound documents (null where they do not apply): the three facets of docs/sending.md
    validation_status: str | None = Field(None, description="valid, invalid")
    delivery_status: str | None = Field(None, description="pending, sent, delivered, failed, dead")
    acknowledgement_status: str | None = Field(
        None, description="not_expected, waiting, accepted, accepted_with_errors, rejected, overdue"
    )
    ack_due_at: datetime | None = Field(None, description="when the partner's 997/999 becomes overdue")
    handoff_status: str | None = Field(None, description="hand-off to internal systems (docs/handoff.md)")

    @classmethod
    def of(cls, m: Message) -> MessageSummary:
        assert m.id is not None
        return cls(
            id=m.id,
            direction=m.direction,
            status=m.status,
            partner_id=m.partner_id,
            channel=m.channel,
            file_name=m.file_name,
            document_format=m.document_format,
            set_ids=m.set_ids.split(",") if m.set_ids else [],
            size=m.size,
            sha256=m.sha256,
            reason=m.reason,
            created_at=m.created_at,
            updated_at=m.updated_at,
            purged_at=m.purged_at,
            validation_status=m.validation_status,
            delivery_status=m.delivery_status,
            acknowledgement_status=m.ack_status,
            ack_due_at=m.ack_due_at,
            handoff_status=m.handoff_status,
        )


class MessagePage(BaseModel):
    items: list[MessageSummary]
    total: int = Field(description="number of messages matching the filters")
    page: int
    limit: int


class EventOut(BaseModel):
    at: datetime
    name: str
    status: str | None
    actor: str
    detail: dict[str, Any] | None

    @classmethod
    def of(cls, e: Event) -> EventOut:
        return cls(at=e.at, name=e.name, status=e.status, actor=e.actor, detail=e.detail)


class TransactionOut(BaseModel):
    set_id: str
    control_number: str | None
    segment_count: int | None
    valid: bool


class GroupOut(BaseModel):
    functional_id: str | None
    sender_id: str | None
    receiver_id: str | None
    control_number: str | None
    version: str | None
    transactions: list[TransactionOut]


class InterchangeOut(BaseModel):
    sender: str
    receiver: str
    control_number: str | None
    version: str | None
    usage: str | None
    date: str | None
    time: str | None
    groups: list[GroupOut]


class AckOut(BaseModel):
    kind: str
    result: str | None
    message_id: int = Field(description="the acknowledged message")
    ack_message_id: int = Field(description="the message carrying the acknowledgement")
    created_at: datetime

    @classmethod
    def of(cls, a: AckLink) -> AckOut:
        return cls(
            kind=a.kind,
            result=a.result,
            message_id=a.message_id,
            ack_message_id=a.ack_message_id,
            created_at=a.created_at,
        )


class BusinessKeyOut(BaseModel):
    kind: str
    value: str


class OutputOut(BaseModel):
    kind: str
    file_name: str | None
    content_type: str | None
    size: int
    sha256: str
    created_at: datetime
    purged_at: datetime | None


class DeliveryAttemptOut(BaseModel):
    channel: str | None
    outcome: str
    transport_id: str | None
    started_at: datetime
    finished_at: datetime | None
    error: dict[str, Any] | None
    actor: str


class AckStatus(BaseModel):
    state: str = Field(description="none (nothing links an acknowledgement), or the latest result: A, E, P, R ...")
    kind: str | None = None
    at: datetime | None = None


class DocumentStatus(BaseModel):
    """An outbound document's facets: our validation, the transport's delivery, the partner's acknowledgement."""

    validation: str | None = Field(None, description="valid / invalid")
    delivery: str | None = Field(None, description="pending / sent / delivered / failed / dead")
    acknowledgement: str | None = Field(
        None, description="not_expected / waiting / accepted / accepted_with_errors / partially_accepted / "
        "rejected / overdue"
    )
    ack_due_at: datetime | None = None
    transport_receipt: str | None = Field(None, description="the latest AS2 MDN result (transport level)")
    functional_ack: str | None = Field(None, description="the latest 997/999/TA1 result: A, E, P, R (functional)")


class MessageDetail(MessageSummary):
    transport_id: str | None
    content_type: str | None
    error: dict[str, Any] | None
    interchanges: list[InterchangeOut]
    ack_status: AckStatus
    acknowledgements: list[AckOut] = Field(description="acknowledgements of this message")
    acknowledges: list[AckOut] = Field(description="messages this one acknowledges")
    business_keys: list[BusinessKeyOut]
    outputs: list[OutputOut]
    delivery_attempts: list[DeliveryAttemptOut]
    timeline: list[EventOut]
    document_status: DocumentStatus | None = Field(None, description="outbound documents: status facets")


class ActionResult(BaseModel):
    message: MessageSummary
    action: str
    actor: str


def interchanges_out(lin: Lineage) -> list[InterchangeOut]:
    out = []
    for ic in lin.interchanges:
        groups = []
        for g in (g for g in lin.groups if g.interchange_id == ic.id):
            sets = [
                TransactionOut(
                    set_id=t.set_id,
                    control_number=t.control_number,
                    segment_count=t.segment_count,
                    valid=t.valid,
                )
                for t in lin.transactions
                if t.group_id == g.id
            ]
            groups.append(
                GroupOut(
                    functional_id=g.functional_id,
                    sender_id=g.sender_id,
                    receiver_id=g.receiver_id,
                    control_number=g.control_number,
                    version=g.version,
                    transactions=sets,
                )
            )
        out.append(
            InterchangeOut(
                sender=f"{ic.sender_qualifier}/{ic.sender_id}",
                receiver=f"{ic.receiver_qualifier}/{ic.receiver_id}",
                control_number=ic.control_number,
                version=ic.version,
                usage=ic.usage,
                date=ic.date,
                time=ic.time,
                groups=groups,
            )
        )
    return out


def message_detail(store: Store, message_id: int) -> MessageDetail:
    """Everything known about one message (raises NotFoundError): what the API and ``messages show`` print."""
    m = store.get(message_id)
    acks = store.acks_of(message_id)
    latest = acks[-1] if acks else None
    return MessageDetail(
        **MessageSummary.of(m).model_dump(),
        transport_id=m.transport_id,
        content_type=m.content_type,
        error=m.error,
        interchanges=interchanges_out(store.lineage(message_id)),
        ack_status=AckStatus(
            state=(latest.result or "received") if latest else "none",
            kind=latest.kind if latest else None,
            at=latest.created_at if latest else None,
        ),
        acknowledgements=[AckOut.of(a) for a in acks],
        acknowledges=[AckOut.of(a) for a in store.acked_by(message_id)],
        business_keys=[BusinessKeyOut(kind=k.kind, value=k.value) for k in store.business_keys(message_id)],
        outputs=[OutputOut.model_validate(o, from_attributes=True) for o in store.outputs(message_id)],
        delivery_attempts=[
            DeliveryAttemptOut.model_validate(a, from_attributes=True) for a in store.delivery_attempts(message_id)
        ],
        timeline=[EventOut.of(e) for e in store.events(message_id)],
        document_status=_document_status(m, acks),
    )


def _document_status(m: Message, acks: list[AckLink]) -> DocumentStatus | None:
    if m.direction != "outbound":
        return None
    mdn = [a for a in acks if a.kind == "MDN"]
    functional = [a for a in acks if a.kind != "MDN"]
    return DocumentStatus(
        validation=m.validation_status,
        delivery=m.delivery_status,
        acknowledgement=m.ack_status,
        ack_due_at=m.ack_due_at,
        transport_receipt=mdn[-1].result if mdn else None,
        functional_ack=functional[-1].result if functional else None,
    )
