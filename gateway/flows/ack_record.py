"""Recording an outgoing acknowledgement (997, 999 or TA1) that answers an inbound message, whoever built it: the
acknowledgement flow (:mod:`gateway.flows.acks`) and the duplicate check (:mod:`gateway.flows.duplicates`, a TA1
with note 025).

The bytes are archived first; then ONE store transaction records the outbound message with its statuses and its
``message.created`` event, the link to the message it answers and that message's ``ack.generated`` event. A crash
can therefore leave an archived payload nobody refers to (harmless; the next attempt writes its own), never an
acknowledgement that is recorded but not linked. Delivery is the caller's next step.

Fail points: ``acks.after_archive`` (archived, nothing recorded) and ``acks.after_create`` (recorded and linked,
not yet delivered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from gateway.failpoints import FailPoints
from gateway.logging import get_logger
from gateway.store.archive import Archive, Blob
from gateway.store.batch import Batch
from gateway.store.models import AckStatus, DeliveryStatus, Direction, Message, MessageStatus, ValidationStatus
from gateway.store.repository import NewMessage, Store

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AckAnswer:
    """What an acknowledgement says: its kind ("997", "999", "997+999", "TA1"), its overall result (A, E, P, R)
    and, for a TA1, its note code (e.g. "025", duplicate interchange control number)."""

    kind: str
    result: str
    note: str | None = None


class AckRecorder:
    def __init__(self, *, store: Store, archive: Archive, failpoints: FailPoints | None = None) -> None:
        self.store = store
        self.archive = archive
        self.failpoints = failpoints or FailPoints()

    def record(self, answered: Message, partner_id: str, key: str, data: bytes, answer: AckAnswer) -> Message:
        """Archive ``data`` and record it as the queued outbound acknowledgement of ``answered`` under ``key``
        (linked, with its events, in one transaction). The caller has just looked ``key`` up; should another
        process have recorded it meanwhile, that message comes back (the unique index decides)."""
        return self.record_many([Answering(answered, partner_id, key, data, answer)])[0]

    def record_many(self, acks: Sequence[Answering]) -> list[Message]:
        """:meth:`record` for several acknowledgements (a batch of files): each archived (fsynced), then all
        recorded and linked in ONE transaction. A key recorded meanwhile by another process (the unique index)
        sends the batch down the one-by-one path, where that message comes back."""
        blobs = [self.archive.put_bytes(a.data) for a in acks]
        self.failpoints.hit("acks.after_archive")
        try:
            made = self.store.create_messages([_new(a, blob) for a, blob in zip(acks, blobs, strict=True)])
        except IntegrityError:
            made = [self.store.create_message(**_fields(_new(a, blob)), look_first=False)[0]
                    for a, blob in zip(acks, blobs, strict=True)]
        self.failpoints.hit("acks.after_create")  # recorded and linked in one transaction; delivery follows
        for a, ack in zip(acks, made, strict=True):
            log.info("ack.generated", extra={"fields": {**_detail(a.answer), "ack_message_id": ack.id}})
        return made

    def relink(self, answered: Message, ack: Message, answer: AckAnswer) -> bool:
        """Link an acknowledgement found by its key to ``answered`` if it is not linked yet (one recorded before
        recording and linking were one transaction); True when a link was written."""
        assert answered.id is not None and ack.id is not None
        if any(a.ack_message_id == ack.id for a in self.store.acks_of(answered.id)):
            return False
        batch = Batch().ack_link(message_id=answered.id, ack_message_id=ack.id, kind=answer.kind, result=answer.result)
        detail = {**_detail(answer), "ack_message_id": ack.id, "recovered": True}
        batch.event(answered.id, "ack.generated", detail=detail)
        self.store.apply(batch)
        log.warning("ack.relinked", extra={"fields": {"kind": answer.kind, "ack_message_id": ack.id}})
        return True


@dataclass(frozen=True, slots=True)
class Answering:
    """An acknowledgement to record: the message it answers, its partner, idempotency key, bytes and answer."""

    answered: Message
    partner_id: str
    key: str
    data: bytes
    answer: AckAnswer


def _new(a: Answering, blob: Blob) -> NewMessage:
    """The outbound acknowledgement's row, its ``message.created`` event, and (once it has an id) the link to the
    message it answers with that message's ``ack.generated`` event: one transaction."""
    inbound_id, answer = a.answered.id, a.answer
    assert inbound_id is not None
    control = isa13(a.data)
    generated = _detail(answer, control=control)

    def linked(ack_id: int) -> Batch:
        then = (
            Batch()
            .ack_link(message_id=inbound_id, ack_message_id=ack_id, kind=answer.kind, result=answer.result)
            .event(inbound_id, "ack.generated", detail={**generated, "ack_message_id": ack_id})
        )
        # the observers take the answered message's columns from the flow's object (its direction is what they
        # read for an acknowledgement link), not from a SELECT of the answered messages after the commit
        then.messages[inbound_id] = a.answered
        return then

    created: dict[str, Any] = {"acknowledges": inbound_id, "kind": answer.kind}
    if answer.note is not None:
        created["note"] = answer.note
    fields = dict(
        direction=Direction.outbound,
        status=MessageStatus.queued,
        partner_id=a.partner_id,
        idempotency_key=a.key,
        file_name=f"{a.partner_id}-{answer.kind.replace('+', '-')}-{control}.x12",
        content_type="application/edi-x12",
        document_format="x12",
        set_ids=answer.kind.replace("+", ","),
        size=blob.size,
        sha256=blob.sha256,
        archive_key=blob.key,
        correlation_id=a.answered.correlation_id,
        validation_status=ValidationStatus.valid.value,  # built by our own acknowledgement builder
        delivery_status=DeliveryStatus.pending.value,
        ack_status=AckStatus.not_expected.value,  # nobody acknowledges an acknowledgement
    )
    return NewMessage(fields, [("message.created", MessageStatus.queued, created)], then=linked)


def _fields(n: NewMessage) -> dict[str, Any]:
    return {**n.fields, "events": n.events, "actor": n.actor, "then": n.then}


def isa13(data: bytes) -> str:
    """The interchange control number of an acknowledgement we just wrote (fixed-width ISA: ISA13 at 90..99)."""
    return data[90:99].decode("ascii")


def _detail(answer: AckAnswer, **more: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {"kind": answer.kind, "result": answer.result}
    if answer.note is not None:
        detail["note"] = answer.note
    return {**detail, **more}
