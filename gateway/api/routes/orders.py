"""Business timelines: ``GET /api/orders``, ``GET /api/orders/{key}``, ``GET /api/shipments``,
``GET /api/shipments/{key}`` (viewer). See docs/operations.md, "Orders and shipments"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from gateway.api.auth import Caller, viewer
from gateway.api.deps import get_gateway
from gateway.errors import InvalidActionError, NotFoundError
from gateway.runtime import Gateway

router = APIRouter(prefix="/api", tags=["orders"])
STAGE_HELP = "ordered, shipped, in_transit, delivered, exception"


def _listing(gw: Gateway, kind: str, **kw: Any) -> dict[str, Any]:
    try:
        return gw.timelines.listing(kind, **kw)
    except InvalidActionError as exc:
        raise HTTPException(422, exc.describe()) from exc


def _timeline(gw: Gateway, kind: str, key: str) -> dict[str, Any]:
    try:
        return gw.timelines.timeline(kind, key)
    except NotFoundError as exc:
        raise HTTPException(404, exc.describe()) from exc
    except InvalidActionError as exc:
        raise HTTPException(422, exc.describe()) from exc


def _filters(partner: str | None, stage: str | None, since: datetime | None, until: datetime | None,
             breached: bool | None, limit: int, offset: int) -> dict[str, Any]:
    return {"partner": partner, "stage": stage, "since": since, "until": until, "breached": breached,
            "limit": limit, "offset": offset}


@router.get("/orders", summary="Orders, most recently active first, by partner, stage, date range and breach")
def list_orders(
    partner: str | None = Query(None, description="partner id of the order's first document"),
    stage: str | None = Query(None, description=STAGE_HELP),
    since: datetime | None = Query(None, description="active at or after (ISO 8601)"),
    until: datetime | None = Query(None, description="started before (ISO 8601)"),
    breached: bool | None = Query(None, description="true: only orders that missed a service level"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    gw: Gateway = Depends(get_gateway),
    _caller: Caller = Depends(viewer),
) -> dict[str, Any]:
    return _listing(gw, "order", **_filters(partner, stage, since, until, breached, limit, offset))


@router.get("/orders/{key}", summary="One order's timeline: documents, acknowledgements, stage, quantities, "
            "parties, service levels", responses={404: {"description": "no message carries that key"}})
def get_order(key: str, gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(viewer)) -> dict[str, Any]:
    return _timeline(gw, "order", key)


@router.get("/shipments", summary="Shipments, most recently active first, by partner, stage, date range and breach")
def list_shipments(
    partner: str | None = Query(None, description="partner id of the shipment's first document"),
    stage: str | None = Query(None, description=STAGE_HELP),
    since: datetime | None = Query(None, description="active at or after (ISO 8601)"),
    until: datetime | None = Query(None, description="started before (ISO 8601)"),
    breached: bool | None = Query(None, description="true: only shipments that missed a service level"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    gw: Gateway = Depends(get_gateway),
    _caller: Caller = Depends(viewer),
) -> dict[str, Any]:
    return _listing(gw, "shipment", **_filters(partner, stage, since, until, breached, limit, offset))


@router.get("/shipments/{key}", summary="One shipment's timeline (shipment id, BOL, PRO, tracking number or SSCC)",
            responses={404: {"description": "no message carries that key"}})
def get_shipment(key: str, gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(viewer)) -> dict[str, Any]:
    return _timeline(gw, "shipment", key)
