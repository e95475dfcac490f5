"""Partner health details: rejected partner files and certificates that expire soon (ours and partners')."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends

from gateway.api.deps import get_gateway
from gateway.partners.health import partner_health
from gateway.runtime import Gateway

router = APIRouter(tags=["health"])


@router.get(
    "/api/health/details",
    summary="Health details: partner files rejected at the last reload, certificates expiring soon",
)
def health_details(gw: Gateway = Depends(get_gateway)) -> dict[str, Any]:
    folder = gw.partner_folder
    return {"partners": partner_health(folder.loaded(), folder.problems, gw.settings, now=datetime.now(UTC))}
