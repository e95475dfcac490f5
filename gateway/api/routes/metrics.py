"""``GET /metrics``: Prometheus exposition text (see gateway/metrics.py and docs/operations.md).

Open by default on the API address, as Prometheus scrapers expect; with ``metrics_require_key: true`` it needs
a viewer key like the rest of the API (Prometheus: ``authorization: {credentials: gw_...}``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from gateway import metrics
from gateway.api.auth import viewer
from gateway.api.deps import get_gateway
from gateway.runtime import Gateway

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: messages, latency, deliveries, acknowledgements, certificates, poll errors",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"example": 'gateway_messages{direction="inbound",...} 3'}}}},
)
def metrics_endpoint(request: Request, gw: Gateway = Depends(get_gateway)) -> Response:
    if gw.settings.metrics_require_key:
        viewer(request, gw, None, None)
    return Response(metrics.render(gw), media_type=CONTENT_TYPE_LATEST)
