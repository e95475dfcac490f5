"""Partners (secrets masked), statistics, and API key management (admin)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from gateway.api.auth import Caller, admin, viewer
from gateway.api.deps import get_gateway
from gateway.errors import ConfigError, NotFoundError
from gateway.logging import mask_secrets
from gateway.runtime import Gateway
from gateway.store.apikeys import ApiKeys
from gateway.store.models import ApiKey, ApiRole

router = APIRouter(tags=["partners and stats"])
keys_router = APIRouter(prefix="/api/keys", tags=["API keys"])


@router.get("/api/partners", summary="Configured partners (secret values masked)")
def list_partners(gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(viewer)) -> dict[str, Any]:
    items = [mask_secrets(p.model_dump(mode="json")) for p in gw.registry]
    return {"items": sorted(items, key=lambda p: p["id"]), "total": len(items)}


@router.get("/api/stats", summary="Message counts by partner, status, direction and day")
def stats(
    days: int = Query(30, ge=1, le=3660, description="how many days back (UTC)"),
    partner: str | None = Query(None, max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]*$"),
    gw: Gateway = Depends(get_gateway),
    _caller: Caller = Depends(viewer),
) -> dict[str, Any]:
    now = datetime.now(UTC)
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"days": days, "partner": partner, **gw.store.stats(since=since, partner=partner)}


class KeyOut(BaseModel):
    name: str
    role: str
    prefix: str = Field(description="the first characters of the key, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, k: ApiKey) -> KeyOut:
        return cls.model_validate(k, from_attributes=True)


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: ApiRole


class KeyCreated(KeyOut):
    key: str = Field(description="the API key: shown this once, never stored")


@keys_router.get("", response_model=list[KeyOut], summary="API keys (admin)")
def list_keys(gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(admin)) -> list[KeyOut]:
    return [KeyOut.of(k) for k in ApiKeys(gw.engine).list()]


@keys_router.post("", response_model=KeyCreated, status_code=201, summary="Create an API key (admin)")
def create_key(body: KeyCreate, gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(admin)) -> KeyCreated:
    try:
        row, token = ApiKeys(gw.engine).create(body.name, body.role)
    except ConfigError as exc:
        raise HTTPException(409 if "already exists" in exc.message else 422, exc.describe()) from exc
    return KeyCreated(**KeyOut.of(row).model_dump(), key=token)


@keys_router.delete("/{name}", response_model=KeyOut, summary="Revoke an API key (admin)")
def revoke_key(name: str, gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(admin)) -> KeyOut:
    try:
        return KeyOut.of(ApiKeys(gw.engine).revoke(name))
    except NotFoundError as exc:
        raise HTTPException(404, exc.message) from exc
