"""The AS2 service of a running :class:`gateway.runtime.Gateway`, when AS2 is configured: our ``identity.as2_id``
with AS2 certificates in the settings. Partner settings are adapted from the partner registry and re-adapted only
when the registry object changes (a hot reload swaps it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.as2.names import as2_configured
from gateway.as2.outbound import Unavailable
from gateway.as2.partners import as2_own_settings, as2_partner_settings, as2_partners
from gateway.as2.ratelimit import RateLimiter
from gateway.as2.service import ASYNC_MDN_JOB, As2Service, build_service
from gateway.as2.settings import As2PartnerSettings
from gateway.as2.spool import clean as clean_spool
from gateway.errors import GatewayError
from gateway.failpoints import FailPoints
from gateway.logging import get_logger
from gateway.partners.channels import As2Channel
from gateway.store.locks import ChannelLocks
from gateway.transports.base import Outbound

log = get_logger(__name__)


def as2_service(gw: Any) -> As2Service | None:
    """None when the gateway has no AS2 identity (``identity.as2_id`` and certificates for as2_signing and
    as2_encryption), or when that identity cannot be loaded (logged as ``as2.disabled`` with the reason)."""
    if not as2_configured(gw.settings):
        return None
    try:
        edge = gw.settings.edge
        own = as2_own_settings(
            gw.settings,
            max_body_bytes=edge.as2_max_body_bytes,
            unknown_max_body_bytes=edge.unknown_sender_max_body_bytes,
        )
    except GatewayError as exc:  # the rest of the gateway still runs; POST /as2 answers 503 and says why here
        log.error("as2.disabled", extra={"fields": {"reason": exc.describe()}})
        return None
    cache: dict[str, Any] = {"registry": None, "partners": []}

    def partners() -> list[As2PartnerSettings]:
        registry = gw.registry
        if cache["registry"] is not registry:
            cache["partners"] = as2_partners(registry, secrets_dir=gw.settings.secrets_path)
            cache["registry"] = registry
        return list(cache["partners"])

    log.info("as2.enabled", extra={"fields": {"as2_id": own.as2_id}})
    service = build_service(
        store=gw.store,
        archive=gw.archive,
        own=own,
        partners=partners,
        clock=lambda: datetime.now(UTC),
        deliver=gw.inbound.receive,
    )
    spool = gw.settings.data_path / "spool"  # received bodies while they are parsed (not the system's tmpfs)
    spool.mkdir(parents=True, exist_ok=True)
    left = clean_spool(spool)  # what requests killed mid-way left behind
    if left:
        log.info("as2.spool_cleaned", extra={"fields": {"entries": len(left)}})
    service.receiver.spool_dir = spool
    service.receiver.failpoints = FailPoints(gw.settings.failpoints)
    service.receiver.leases = gw.leases  # a request in flight is leased to this node (a retry elsewhere waits)
    locks = ChannelLocks(gw.engine)
    service.mdn_delivery.lock = lambda: locks.hold(ASYNC_MDN_JOB)  # one sweeping process per store
    service.mdn_delivery.wake = lambda: gw.scheduler.wake(ASYNC_MDN_JOB)
    service.unknown_senders = RateLimiter(edge.unknown_sender_per_minute / 60.0, edge.unknown_sender_burst)
    return service


NOT_CONFIGURED = (
    "AS2 is not configured on this gateway: set identity.as2_id and a certificate used for as2_signing and "
    "as2_encryption in config/gateway.yaml (gateway as2 keygen makes one)"
)


def outbound_as2(gw: Any, partner: Any) -> list[Outbound]:
    """The partner's outbound AS2 channels as transports (for the outbound flow's channel list). A channel that
    cannot be used (AS2 not configured here, an unreadable certificate) fails each send with the reason."""
    channels = [c for c in partner.channels_for("outbound", "as2") if isinstance(c, As2Channel)]
    if not channels:
        return []
    service: As2Service | None = gw.as2
    cache = service.channel_settings if service is not None else {}
    out: list[Outbound] = []
    for ch in channels:
        cid = f"{partner.id}/{ch.name}"
        if service is None:
            out.append(Unavailable(cid, NOT_CONFIGURED))
            continue
        key = (partner.id, ch.model_dump_json())  # an edited channel is a new key
        try:
            if cache.get(("", "registry")) is not gw.registry:  # a partner reload reads certificate files again
                cache.clear()
                cache[("", "registry")] = gw.registry
            if key not in cache:  # each channel once per registry (not only the first one asked for)
                cache[key] = as2_partner_settings(partner.id, ch, secrets_dir=gw.settings.secrets_path)
        except GatewayError as exc:
            log.error("channels.unusable", extra={"fields": {"partner_id": partner.id, "channel": ch.name,
                                                             "reason": exc.describe()}})
            out.append(Unavailable(cid, exc.describe()))
            continue
        out.append(service.outbound(cid, cache[key], FailPoints(gw.settings.failpoints)))
    return out
