"""Partner health details: rejected partner files and certificates that expire soon (a viewer key)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends

from gateway.api.auth import Caller, viewer
from gateway.api.deps import get_gateway
from gateway.partners.health import partner_health
from gateway.runtime import Gateway

router = APIRouter(tags=["health"])


@router.get(
    "/api/health/details",
    summary="Health details: partner files rejected at the last reload, certificates expiring soon",
    responses={401: {"description": "no or unknown API key"}},
)
def health_details(gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(viewer)) -> dict[str, Any]:
    folder = gw.partner_folder
    return {"partners": partner_health(folder.loaded(), folder.problems, gw.settings, now=datetime.now(UTC))}
