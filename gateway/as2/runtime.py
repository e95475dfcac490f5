"""The AS2 service of a running :class:`gateway.runtime.Gateway`, when AS2 is configured: our ``identity.as2_id``
with AS2 certificates in the settings. Partner settings are adapted from the partner registry and re-adapted only
when the registry object changes (a hot reload swaps it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.as2.partners import as2_own_settings, as2_partners
from gateway.as2.service import As2Service, build_service
from gateway.as2.settings import As2PartnerSettings
from gateway.logging import get_logger

log = get_logger(__name__)


def as2_service(gw: Any) -> As2Service | None:
    """None when the gateway has no AS2 identity (``identity.as2_id`` and an AS2 certificate)."""
    ident = gw.settings.identity
    if not ident.as2_id or not any({"as2_signing", "as2_encryption"} & set(c.use) for c in ident.certificates):
        return None
    own = as2_own_settings(gw.settings)
    cache: dict[str, Any] = {"registry": None, "partners": []}

    def partners() -> list[As2PartnerSettings]:
        registry = gw.registry
        if cache["registry"] is not registry:
            cache["partners"] = as2_partners(registry, secrets_dir=gw.settings.secrets_path)
            cache["registry"] = registry
        return list(cache["partners"])

    log.info("as2.enabled", extra={"fields": {"as2_id": own.as2_id}})
    return build_service(
        store=gw.store,
        archive=gw.archive,
        own=own,
        partners=partners,
        clock=lambda: datetime.now(UTC),
        deliver=gw.inbound.receive,
    )
