"""Health details: rejected partner files, certificates that expire soon, and the gateway nodes sharing the store
(a viewer key)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from gateway.api.auth import Caller, viewer
from gateway.api.deps import get_gateway
from gateway.partners.health import partner_health
from gateway.runtime import Gateway

router = APIRouter(tags=["health"])


class NodeWork(BaseModel):
    jobs: list[str]
    leases: dict[str, int]


class NodeOut(BaseModel):
    node_id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    last_seen: datetime
    state: str
    this_node: bool
    working: NodeWork


class HealthDetails(BaseModel):
    partners: dict[str, Any]
    node: str
    nodes: list[NodeOut]
    nodes_gone: list[NodeOut]


@router.get(
    "/api/health/details",
    summary="Health details: partner files rejected at the last reload, certificates expiring soon, nodes",
    responses={401: {"description": "no or unknown API key"}},
)
def health_details(gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(viewer)) -> HealthDetails:
    folder = gw.partner_folder
    nodes = gw.nodes.nodes()
    return HealthDetails(
        partners=partner_health(folder.loaded(), folder.problems, gw.settings, now=datetime.now(UTC)),
        node=gw.nodes.node,
        nodes=[NodeOut.model_validate(n) for n in nodes if n["state"] == "live"],
        nodes_gone=[NodeOut.model_validate(n) for n in nodes if n["state"] != "live"],
    )
