"""How a delivery attempt's result becomes the outbound message's statuses: the overall ``MessageStatus`` and the
delivery facet (``DeliveryStatus``: pending, sent, delivered, failed, dead).

Pure functions, shared by the outbound flow, the retry sweep and the AS2 receipt handling, so that every place
that ends a delivery agrees on what the two statuses are.

| result | status | delivery_status |
|---|---|---|
| every receipt says ``delivered`` (sync MDN with matching MIC, 2xx when no MDN was asked) | delivered | delivered |
| every channel completed the transfer, no later receipt (folder write, SFTP rename, webhook 2xx) | sent | delivered |
| some channel only handed it over and a receipt is still awaited (async MDN) | sent | sent |
| transient error (down, timeout, HTTP 5xx/429): another attempt is scheduled | retrying | pending |
| permanent error, or the partner refused it (negative MDN, MIC mismatch) | failed | failed |
| retries used up | dead | dead |
| no outbound channel: the file waits in the archive | queued | pending |
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.store.models import DeliveryStatus, MessageStatus
from gateway.transports.base import Receipt, ReceiptOutcome


def after_receipts(receipts: Iterable[Receipt]) -> tuple[MessageStatus, DeliveryStatus]:
    """Statuses once every channel accepted the message: delivered only when each receipt is final."""
    outcomes = [r.outcome for r in receipts]
    if outcomes and all(o == ReceiptOutcome.delivered for o in outcomes):
        return MessageStatus.delivered, DeliveryStatus.delivered
    if outcomes and all(o in (ReceiptOutcome.delivered, ReceiptOutcome.completed) for o in outcomes):
        return MessageStatus.sent, DeliveryStatus.delivered
    return MessageStatus.sent, DeliveryStatus.sent


def after_error(transient: bool) -> tuple[MessageStatus, DeliveryStatus]:
    """Statuses after a failed attempt: a transient error is retried, anything else fails the delivery."""
    if transient:
        return MessageStatus.retrying, DeliveryStatus.pending
    return MessageStatus.failed, DeliveryStatus.failed


DEAD = (MessageStatus.dead, DeliveryStatus.dead)
NO_CHANNEL = (MessageStatus.queued, DeliveryStatus.pending)
