"""The FastAPI application factory. The app serves one :class:`~gateway.runtime.Gateway`; with
``manage_runtime`` it also starts and stops the gateway's channels with the server (``gateway serve``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import __version__
from gateway.api import openapi, ui
from gateway.api.guard import RejectNul
from gateway.api.request_id import RequestIdMiddleware
from gateway.api.routes import admin, as2, attention, documents, handoff, health, messages, orders, webhooks
from gateway.api.routes import metrics as metrics_routes
from gateway.api.routes import partners as partner_routes
from gateway.runtime import Gateway

DESCRIPTION = """Search the message archive, read timelines, lineage and acknowledgements; resend and reprocess.

**Authentication.** Every endpoint but `/api/health` and `/api/ready` needs an API key (`gateway apikey create
--name NAME --role viewer|operator|admin`), sent as `Authorization: Bearer gw_...` or `X-API-Key: gw_...`. Use
**Authorize** above to try the operations here. Roles: *viewer* reads; *operator* also resends and reprocesses;
*admin* also manages keys.

**Errors** are JSON: `{"detail": "what went wrong and what to do"}` (422: a list of the fields that failed).
Every answer carries an `X-Request-ID` header, also on every log line written while serving it: quote it when
asking for help. The support page for people is at [/ui](/ui).
"""

TAGS = [
    {"name": "messages", "description": "Search, inspect and act on messages (inbound and outbound)."},
    {"name": "partners and stats", "description": "Configured partners (secrets masked) and message counts."},
    {"name": "health", "description": "Liveness, readiness and partner/certificate health."},
    {"name": "API keys", "description": "Create, list and revoke API keys (admin)."},
]


def create_app(gateway: Gateway, *, manage_runtime: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            gateway.start()
        try:
            yield
        finally:
            if manage_runtime:
                gateway.stop()

    app = FastAPI(
        title="EDI partner gateway",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_tags=TAGS,
    )
    app.add_middleware(RejectNul)  # hostile query input: a clean 400, never a database error
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer carries its request id, the 400s above too
    openapi.install(app)
    app.state.gateway = gateway
    app.include_router(health.router)
    app.include_router(metrics_routes.router)
    app.include_router(messages.router)
    app.include_router(documents.router)
    app.include_router(attention.router)
    app.include_router(orders.router)
    app.include_router(handoff.router)
    app.include_router(handoff.inbox_router)
    app.include_router(partner_routes.router)
    app.include_router(admin.router)
    app.include_router(admin.keys_router)
    app.include_router(as2.router)  # POST /as2: no API key, AS2 authenticates by signature
    as2_service = getattr(gateway, "as2", None)
    if as2_service is not None:
        as2_service.attach(app)
    app.include_router(webhooks.router)
    ui.mount(app)
    return app
