"""The FastAPI application factory. The app serves one :class:`~gateway.runtime.Gateway`; with
``manage_runtime`` it also starts and stops the gateway's channels with the server (``gateway serve``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import __version__
from gateway.api.guard import RejectNul
from gateway.api.routes import admin, as2, attention, documents, handoff, health, messages, webhooks
from gateway.api.routes import partners as partner_routes
from gateway.runtime import Gateway


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
        description="Search the message archive, inspect timelines and acknowledgements.",
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.add_middleware(RejectNul)  # hostile query input: a clean 400, never a database error
    app.include_router(health.router)
    app.include_router(messages.router)
    app.include_router(documents.router)
    app.include_router(attention.router)
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
    return app
