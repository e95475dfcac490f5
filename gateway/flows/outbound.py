"""Outbound delivery: hand an archived outbound message to its partner's outbound channel(s).

The message's bytes come from the archive (never from memory kept elsewhere), so a delivery can be retried or
resent at any time. Each attempt and its outcome are on the message's timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from gateway.errors import GatewayError, TransportError
from gateway.failpoints import FailPoints
from gateway.flows import delivery_status as ds
from gateway.logging import get_logger, log_context
from gateway.partners.schema import Partner
from gateway.store.archive import Archive
from gateway.store.batch import Batch
from gateway.store.models import AckStatus, Message
from gateway.store.repository import Store
from gateway.store.steps import Step
from gateway.store.types import utcnow
from gateway.transports.base import Outbound, Receipt, delivering
from gateway.transports.folder import FolderOutbound

log = get_logger(__name__)

OutboundChannels = Callable[[Partner], Sequence[Outbound]]


class Delivers(Protocol):
    """Anything that delivers an archived outbound message: :class:`OutboundFlow`, or the retrying wrapper."""

    def deliver(self, message: Message, partner: Partner, *, batch: Batch | None = None) -> Message: ...


class OutboundFlow:
    def __init__(
        self, *, store: Store, archive: Archive, channels: OutboundChannels, failpoints: FailPoints | None = None
    ) -> None:
        self.store = store
        self.archive = archive
        self.channels = channels
        self.failpoints = failpoints or FailPoints()
        self._last: tuple[Partner, Sequence[Outbound]] | None = None  # see _targets

    def _targets(self, partner: Partner) -> Sequence[Outbound]:
        """The outbound channels of ``partner``. Folder channels hold nothing but a name and a path, so those of
        the partner object delivered to last are reused (a batch's acknowledgements all go to one partner; a
        reloaded partner file is a new object); any other transport is made anew for each delivery, as before."""
        last = self._last
        if last is not None and last[0] is partner:
            return last[1]
        targets = self.channels(partner)
        if targets and all(type(t) is FolderOutbound for t in targets):
            self._last = (partner, tuple(targets))
        return targets

    def deliver(self, message: Message, partner: Partner, *, batch: Batch | None = None) -> Message:
        """Send ``message`` on every outbound channel of ``partner``; returns the updated message.

        Each outcome (the attempt row, the status, the delivery status and the event) is one transaction. The
        statuses follow the receipts' outcomes (see :mod:`gateway.flows.delivery_status`). With ``batch`` (the
        acknowledgements of a batch of files) a successful outcome goes into it instead, for the caller to write
        with the others in one transaction (``message`` is brought in step then).
        """
        assert message.id is not None and message.archive_key is not None and message.file_name is not None
        with log_context(message_id=message.id, partner_id=partner.id):
            targets = self._targets(partner)
            if not targets:
                log.warning("delivery.pending", extra={"fields": {"reason": "no outbound channel"}})
                status, delivery = ds.NO_CHANNEL
                return self.store.step(message.id, Step(
                    status=status,
                    fields={"delivery_status": delivery.value,
                            "reason": f"partner {partner.id!r} has no outbound channel: the file waits in the archive"},
                    events=[("delivery.pending", status, None)],
                ))
            receipts: list[dict[str, object]] = []
            got: list[Receipt] = []
            done: list[dict[str, object]] = []
            for transport in targets:
                started = utcnow()
                try:
                    with self.archive.open(message.archive_key) as src, delivering(message.id):
                        receipt = transport.send(message.file_name, src)
                except (TransportError, GatewayError) as exc:
                    transient = bool(getattr(exc, "transient", False))
                    log.error("delivery.failed", extra={"fields": {"channel": transport.channel, "error": str(exc)}})
                    status, delivery = ds.after_error(transient)
                    return self.store.step(message.id, Step(
                        status=status,
                        fields={"reason": exc.describe(), "error": exc.to_dict(), "delivery_status": delivery.value},
                        events=[("delivery.failed", status, {"channel": transport.channel})],
                        attempts=[*done, {"channel": transport.channel, "started_at": started,
                                          "outcome": "retrying" if transient else "failed", "error": exc.to_dict()}],
                    ))
                self.failpoints.hit("outbound.after_send")
                done.append({"channel": transport.channel, "outcome": "sent", "started_at": started,
                             "transport_id": receipt.transport_id})
                receipts.append({"channel": transport.channel, "to": receipt.transport_id,
                                 "outcome": str(receipt.outcome)})
                got.append(receipt)
            status, delivery = ds.after_receipts(got)
            log.info(f"message.{status.value}", extra={"fields": {"channels": [r["channel"] for r in receipts]}})
            due = self._ack_due(message)
            # the common outcome on the batched path (Core, one transaction, no ORM load of the row)
            fields: dict[str, Any] = {
                "transport_id": receipts[0]["to"], "channel": receipts[0]["channel"], "reason": None, "error": None,
                "delivery_status": delivery.value, **({"ack_due_at": due} if due is not None else {}),
            }
            # with ``batch``, straight into it (written by the caller with the batch's other outcomes)
            outcome = (Batch() if batch is None else batch).update(
                message, event=f"message.{status.value}", status=status, detail={"receipts": receipts}, **fields
            )
            for attempt in done:
                outcome.delivery_attempt(message, channel=str(attempt["channel"]), outcome=str(attempt["outcome"]),
                                       started_at=attempt["started_at"],  # type: ignore[arg-type]
                                       transport_id=attempt.get("transport_id"))  # type: ignore[arg-type]
            if batch is None:
                self.store.apply(outcome)
            return message

    def _ack_due(self, message: Message) -> datetime | None:
        """The partner's acknowledgement is due counted from this send (the build recorded the window)."""
        if message.ack_status != AckStatus.waiting.value or message.id is None:
            return None
        built = [e for e in self.store.events(message.id) if e.name == "document.built"]
        seconds = (built[-1].detail or {}).get("ack_within_seconds") if built else None
        return utcnow() + timedelta(seconds=float(seconds)) if seconds else None
