"""Wiring for the runtime: the AS2 receiver, sender and async-MDN delivery over one store and archive, and their
periodic jobs. The caller adapts its partner registry to ``partners`` (the current :class:`As2PartnerSettings` of
every partner with an AS2 channel) and passes the inbound flow's ``receive`` as ``deliver``. Received messages
find their partner by AS2 id, sent ones by partner id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.as2.mdn_delivery import AsyncMdnDelivery
from gateway.as2.ratelimit import RateLimiter
from gateway.as2.receive import As2Payload, As2Receiver
from gateway.as2.send import As2Sender
from gateway.as2.settings import As2OwnSettings, As2PartnerSettings
from gateway.store.archive import Archive
from gateway.store.repository import Store

ASYNC_MDN_JOB = "as2.async_mdn"
ASYNC_MDN_SWEEP_SECONDS = 5.0  # queued async MDNs also wake the job at once


@dataclass
class As2Service:
    receiver: As2Receiver
    sender: As2Sender
    mdn_delivery: AsyncMdnDelivery
    unknown_senders: RateLimiter | None = None  # requests from AS2 ids no partner file has

    def attach(self, app: Any) -> None:
        """Make ``POST /as2`` serve this service (see gateway/api/routes/as2.py)."""
        app.state.as2_receiver = self.receiver
        app.state.as2_mdn_delivery = self.mdn_delivery
        app.state.as2_unknown_senders = self.unknown_senders

    def jobs(self) -> list[tuple[str, Callable[[], Any], float]]:
        """(job id, function, interval seconds) for the scheduler."""
        return [
            ("as2.retry", self.sender.retry_due, 60.0),
            ("as2.mdn_overdue", self.sender.check_overdue, 60.0),
            (ASYNC_MDN_JOB, self.mdn_delivery.run_due, ASYNC_MDN_SWEEP_SECONDS),
        ]


def build_service(
    *,
    store: Store,
    archive: Archive,
    own: As2OwnSettings,
    partners: Callable[[], Iterable[As2PartnerSettings]],
    clock: Callable[[], datetime],
    deliver: Callable[[As2Payload], Any] | None,
) -> As2Service:
    """``partners`` returns the current AS2 settings of every partner (called per lookup, so reloads apply)."""

    def by_as2_id(as2_id: str) -> As2PartnerSettings | None:
        return next((p for p in partners() if p.as2_id == as2_id), None)

    def by_partner_id(partner_id: str) -> As2PartnerSettings | None:
        return next((p for p in partners() if p.id == partner_id), None)

    sender = As2Sender(store=store, archive=archive, own=own, partners=by_partner_id, clock=clock)
    receiver = As2Receiver(
        store=store,
        archive=archive,
        own=own,
        partners=by_as2_id,
        clock=clock,
        deliver=deliver,
        mdn_handler=sender.handle_mdn,
    )
    return As2Service(receiver, sender, AsyncMdnDelivery(store=store, archive=archive))
