"""Operator actions on one message, shared by the API and the CLI: resend (outbound) and reprocess (inbound).

Each action is recorded on the message's timeline with ``actor`` (``api-key:NAME`` from the API, ``cli:USER``
from the command line). Errors: :class:`NotFoundError` (no such message), :class:`PayloadPurgedError` (its bytes
were purged by retention), :class:`InvalidActionError` (wrong direction, partner no longer configured).
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.errors import InvalidActionError, PayloadPurgedError
from gateway.flows.inbound import InboundFlow
from gateway.flows.outbound import Delivers
from gateway.partners.registry import PartnerRegistry
from gateway.store.archive import Archive
from gateway.store.models import Direction, Message, MessageStatus
from gateway.store.repository import Store


def payload_available(store: Store, archive: Archive, message_id: int, doing: str) -> Message:
    """The message, if its payload can still be read; else the reason why not."""
    m = store.get(message_id)
    if m.purged_at is not None:
        raise PayloadPurgedError(
            f"the payload of message {m.id} was purged from the archive on {m.purged_at:%Y-%m-%d} "
            f"(archive retention): {doing} is not possible; its metadata and timeline are kept"
        )
    if not m.archive_key or not archive.exists(m.archive_key):
        raise PayloadPurgedError(f"the payload of message {m.id} is not in the archive: {doing} is not possible")
    return m


def resend(
    *,
    store: Store,
    archive: Archive,
    registry: Callable[[], PartnerRegistry],
    outbound: Delivers,
    message_id: int,
    actor: str,
) -> Message:
    """Deliver an outbound message again from its archived bytes. Pass the retrying deliverer
    (:class:`~gateway.flows.retry.DeliveryRetries`) so a transient failure is retried by the sweep."""
    m = store.get(message_id)
    if m.direction != Direction.outbound:
        raise InvalidActionError(
            f"message {m.id} is inbound: resend applies to outbound messages", hint="use reprocess instead"
        )
    m = payload_available(store, archive, message_id, "resending it")
    assert m.id is not None
    partner = registry().get(m.partner_id) if m.partner_id else None
    if partner is None:
        raise InvalidActionError(
            f"message {m.id} belongs to partner {m.partner_id!r}, which is not configured",
            hint="add the partner file back, then resend",
        )
    m = store.update(
        m.id,
        event="message.resend_requested",
        status=MessageStatus.queued,
        actor=actor,
        detail={"previous_status": m.status},
    )
    return outbound.deliver(m, partner)


def reprocess(
    *, store: Store, archive: Archive, inbound: InboundFlow, message_id: int, actor: str, force: bool = False
) -> Message:
    """Run the inbound flow again from the archived bytes (e.g. after a partner file was fixed). ``force``
    processes a duplicate interchange anyway."""
    m = store.get(message_id)
    if m.direction != Direction.inbound:
        raise InvalidActionError(
            f"message {m.id} is outbound: reprocess applies to inbound messages", hint="use resend instead"
        )
    payload_available(store, archive, message_id, "reprocessing it")
    return inbound.resume(message_id, actor=actor, force=force)
