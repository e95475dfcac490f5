"""The support page (``/ui``): see :mod:`gateway.api.ui.routes`. :func:`mount` adds it to an app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gateway.api.ui.session import Sessions


def mount(app: FastAPI) -> None:
    from gateway.api.ui.orders import router as orders_router
    from gateway.api.ui.routes import router

    app.state.ui_sessions = Sessions()
    app.mount("/ui/static", StaticFiles(directory=Path(__file__).parent / "static"), name="ui-static")
    app.include_router(router)
    app.include_router(orders_router)
