"""Outbound delivery: hand an archived outbound message to its partner's outbound channel(s).

The message's bytes come from the archive (never from memory kept elsewhere), so a delivery can be retried or
resent at any time. Each attempt and its outcome are on the message's timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from gateway.errors import GatewayError, TransportError
from gateway.logging import get_logger, log_context
from gateway.partners.schema import Partner
from gateway.store.archive import Archive
from gateway.store.batch import Batch
from gateway.store.models import Message, MessageStatus
from gateway.store.repository import Store
from gateway.store.types import utcnow
from gateway.transports.base import Outbound

log = get_logger(__name__)

OutboundChannels = Callable[[Partner], Sequence[Outbound]]


class Delivers(Protocol):
    """Anything that delivers an archived outbound message: :class:`OutboundFlow`, or the retrying wrapper."""

    def deliver(self, message: Message, partner: Partner) -> Message: ...


class OutboundFlow:
    def __init__(self, *, store: Store, archive: Archive, channels: OutboundChannels) -> None:
        self.store = store
        self.archive = archive
        self.channels = channels

    def deliver(self, message: Message, partner: Partner) -> Message:
        """Send ``message`` on every outbound channel of ``partner``; returns the updated message."""
        assert message.id is not None and message.archive_key is not None and message.file_name is not None
        with log_context(message_id=message.id, partner_id=partner.id):
            targets = self.channels(partner)
            if not targets:
                log.warning("delivery.pending", extra={"fields": {"reason": "no outbound channel"}})
                return self.store.update(
                    message.id,
                    event="delivery.pending",
                    status=MessageStatus.queued,
                    reason=f"partner {partner.id!r} has no outbound channel: the file waits in the archive",
                )
            receipts = []
            batch = Batch()  # every attempt and the outcome are written together, once the outcome is known
            for transport in targets:
                started = utcnow()
                try:
                    with self.archive.open(message.archive_key) as src:
                        receipt = transport.send(message.file_name, src)
                except (TransportError, GatewayError) as exc:
                    transient = bool(getattr(exc, "transient", False))
                    batch.delivery_attempt(
                        message.id,
                        channel=transport.channel,
                        outcome="retrying" if transient else "failed",
                        started_at=started,
                        error=exc.to_dict(),
                    )
                    log.error("delivery.failed", extra={"fields": {"channel": transport.channel, "error": str(exc)}})
                    batch.update(
                        message,
                        event="delivery.failed",
                        status=MessageStatus.failed if not getattr(exc, "transient", False) else MessageStatus.retrying,
                        reason=exc.describe(),
                        error=exc.to_dict(),
                        detail={"channel": transport.channel},
                    )
                    self.store.apply(batch)  # the attempts so far and the outcome: one transaction
                    return message
                batch.delivery_attempt(
                    message.id,
                    channel=transport.channel,
                    outcome="sent",
                    started_at=started,
                    transport_id=receipt.transport_id,
                )
                receipts.append({"channel": transport.channel, "to": receipt.transport_id})
            log.info("message.sent", extra={"fields": {"channels": [r["channel"] for r in receipts]}})
            batch.update(
                message,
                event="message.sent",
                status=MessageStatus.sent,
                transport_id=receipts[0]["to"],
                channel=receipts[0]["channel"],
                reason=None,
                detail={"receipts": receipts},
            )
            self.store.apply(batch)
            return message
