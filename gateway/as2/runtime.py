"""The AS2 service of a running :class:`gateway.runtime.Gateway`, when AS2 is configured: our ``identity.as2_id``
with AS2 certificates in the settings. Partner settings are adapted from the partner registry and re-adapted only
when the registry object changes (a hot reload swaps it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.as2.partners import as2_own_settings, as2_partners
from gateway.as2.ratelimit import RateLimiter
from gateway.as2.service import ASYNC_MDN_JOB, As2Service, build_service
from gateway.as2.settings import As2PartnerSettings
from gateway.errors import GatewayError
from gateway.logging import get_logger
from gateway.store.locks import ChannelLocks

log = get_logger(__name__)


def as2_service(gw: Any) -> As2Service | None:
    """None when the gateway has no AS2 identity (``identity.as2_id`` and certificates for as2_signing and
    as2_encryption), or when that identity cannot be loaded (logged as ``as2.disabled`` with the reason)."""
    ident = gw.settings.identity
    uses = {u for c in ident.certificates for u in c.use}
    if not ident.as2_id or not {"as2_signing", "as2_encryption"} <= uses:
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
    locks = ChannelLocks(gw.engine)
    service.mdn_delivery.lock = lambda: locks.hold(ASYNC_MDN_JOB)  # one sweeping process per store
    service.mdn_delivery.wake = lambda: gw.scheduler.wake(ASYNC_MDN_JOB)
    service.unknown_senders = RateLimiter(edge.unknown_sender_per_minute / 60.0, edge.unknown_sender_burst)
    return service
