"""Wiring for the runtime: the AS2 receiver, sender, outbound transports (with their MDN handling) and
async-MDN delivery over one store and archive, and their periodic jobs. The caller adapts its partner registry
to ``partners`` (the current :class:`As2PartnerSettings` of every partner with an AS2 channel) and passes the
inbound flow's ``receive`` as ``deliver``. Received messages find their partner by AS2 id, sent ones by partner
id; an MDN goes to the outbound transport's receipts when it answers one of its transmissions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.as2.mdn_delivery import AsyncMdnDelivery
from gateway.as2.names import ASYNC_MDN_JOB as ASYNC_MDN_JOB
from gateway.as2.outbound import As2Outbound, As2Receipts, original_message_id
from gateway.as2.ratelimit import RateLimiter
from gateway.as2.receive import As2Payload, As2Receiver, As2Response
from gateway.as2.send import As2Sender
from gateway.as2.settings import As2OwnSettings, As2PartnerSettings
from gateway.failpoints import FailPoints
from gateway.store.archive import Archive
from gateway.store.repository import Store

ASYNC_MDN_SWEEP_SECONDS = 5.0  # queued async MDNs also wake the job at once


@dataclass
class As2Service:
    receiver: As2Receiver
    sender: As2Sender
    mdn_delivery: AsyncMdnDelivery
    receipts: As2Receipts
    unknown_senders: RateLimiter | None = None  # requests from AS2 ids no partner file has
    #: (partner id, channel as JSON) -> As2PartnerSettings of outbound channels, so certificate files are read once
    channel_settings: dict[tuple[str, str], Any] = field(default_factory=dict)

    def outbound(self, channel: str, partner: As2PartnerSettings, failpoints: FailPoints | None = None) -> As2Outbound:
        """The outbound transport of one partner AS2 channel (``channel`` is ``<partner id>/<name>``)."""
        s = self.sender
        return As2Outbound(
            channel=channel,
            partner=partner,
            own=s.own,
            org=s.org,
            store=s.store,
            archive=s.archive,
            clock=s.clock,
            failpoints=failpoints,
        )

    def handle_mdn(self, raw: bytes, headers: dict[str, str]) -> As2Response:
        """An MDN POSTed to /as2: for a transmission of the outbound transport, or else for As2Sender.send."""
        original = original_message_id(raw)
        if original:
            answer = self.receipts.handle_async(raw, original)
            if answer is not None:
                return answer
        return self.sender.handle_mdn(raw, headers)

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
            ("as2.outbound_mdns", self.receipts.sweep, 30.0),
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

    def current_certificates(tx: Any) -> tuple[bytes, ...]:
        p = by_partner_id((tx.channel or "").split("/")[0])
        return p.signing_certificates if p else ()

    sender = As2Sender(store=store, archive=archive, own=own, partners=by_partner_id, clock=clock)
    receiver = As2Receiver(store=store, archive=archive, own=own, partners=by_as2_id, clock=clock, deliver=deliver)
    receipts = As2Receipts(store=store, archive=archive, clock=clock, current_certificates=current_certificates)
    service = As2Service(receiver, sender, AsyncMdnDelivery(store=store, archive=archive), receipts)
    receiver.mdn_handler = service.handle_mdn
    return service
