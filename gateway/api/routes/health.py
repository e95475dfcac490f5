"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from gateway import __version__
from gateway.api.deps import get_gateway
from gateway.errors import StoreError
from gateway.runtime import Gateway
from gateway.store.db import ping

router = APIRouter(tags=["health"])


@router.get("/api/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:  # on the event loop: answers even when every worker thread is busy
    return {"status": "ok", "version": __version__}


@router.get("/api/ready", summary="Readiness: the store is reachable", responses={503: {"description": "not ready"}})
def ready(gw: Gateway = Depends(get_gateway)) -> JSONResponse:
    try:
        ping(gw.engine)
    except StoreError as exc:
        return JSONResponse({"status": "unavailable", "store": exc.message}, status_code=503)
    return JSONResponse({"status": "ready", "store": gw.engine.dialect.name, "partners": len(gw.registry)})
