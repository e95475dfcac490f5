"""Support page: orders and shipments (``/ui/orders``, ``/ui/orders/{key}``, ``/ui/shipments/{key}``).

Reads the same timelines as ``GET /api/orders/{key}`` (:class:`gateway.flows.business.Timelines`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.ui.nav import NavItem, add_page
from gateway.api.ui.routes import _current, _gw, _render, _to_login
from gateway.business.stage import STAGES
from gateway.errors import InvalidActionError, NotFoundError

router = APIRouter(prefix="/ui", include_in_schema=False)
add_page(NavItem(key="orders", label="Orders", href="/ui/orders", order=30, accesskey="o"))


def _when(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request, key: str | None = None, kind: str = "order", partner: str | None = None,
                stage: str | None = None, since: str | None = None, until: str | None = None,
                breached: str | None = None) -> Response:
    s = _current(request)
    if s is None:
        return _to_login(request)
    kind = "shipment" if kind == "shipment" else "order"
    if key and key.strip():
        return RedirectResponse(f"/ui/{kind}s/{key.strip()}", status_code=303)
    error = None
    try:
        found = _gw(request).timelines.listing(kind, partner=partner or None, stage=stage or None,
                                               since=_when(since), until=_when(until),
                                               breached=True if breached else None, limit=100)
    except InvalidActionError as exc:
        found, error = {"total": 0, "items": []}, exc.describe()
    return _render(request, "orders.html", {
        "session": s, "active": "orders", "found": found, "error": error, "stages": STAGES,
        "f": {"kind": kind, "partner": partner or "", "stage": stage or "", "since": since or "",
              "until": until or "", "breached": bool(breached)}})


def _timeline(request: Request, kind: str, key: str) -> Response:
    s = _current(request)
    if s is None:
        return _to_login(request)
    try:
        t = _gw(request).timelines.timeline(kind, key)
    except (NotFoundError, InvalidActionError) as exc:
        return _render(request, "error.html", {"session": s, "active": "orders", "title": f"No {kind} {key}",
                                               "message": exc.describe()}, status=404)
    return _render(request, "order.html", {"session": s, "active": "orders", "t": t})


@router.get("/orders/{key}", response_class=HTMLResponse)
def order_page(request: Request, key: str) -> Response:
    return _timeline(request, "order", key)


@router.get("/shipments/{key}", response_class=HTMLResponse)
def shipment_page(request: Request, key: str) -> Response:
    return _timeline(request, "shipment", key)
