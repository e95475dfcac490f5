"""The support worklist: ``GET /api/attention`` (viewer) and ``POST /api/attention/{id}/resolve`` (operator)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.auth import Caller, operator, viewer
from gateway.api.deps import get_gateway
from gateway.api.routes.messages import MessageId
from gateway.errors import InvalidActionError, NotFoundError
from gateway.flows import attention
from gateway.runtime import Gateway

router = APIRouter(prefix="/api/attention", tags=["attention"])


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000, description="what was done (recorded on the timeline)")
    kind: str | None = Field(None, description="resolve only this kind (default: every open item of the message)")


@router.get(
    "",
    summary="Everything a support person must act on, oldest first, with counts per partner and per kind",
    responses={401: {"description": "no or unknown API key"}, 422: {"description": "unknown kind"}},
)
def get_attention(
    kind: str | None = Query(None, description=f"one of {', '.join(attention.KINDS)}"),
    partner: str | None = Query(None, description="partner id"),
    limit: int = Query(100, ge=1, le=1000),
    gw: Gateway = Depends(get_gateway),
    _caller: Caller = Depends(viewer),
) -> dict[str, Any]:
    try:
        return attention.worklist(gw.store, kind=kind, partner=partner, limit=limit).to_dict()
    except InvalidActionError as exc:
        raise HTTPException(422, exc.describe()) from exc


@router.post(
    "/{message_id}/resolve",
    summary="Resolve a message's worklist items with a note (operator); recorded on its timeline with the actor",
    responses={404: {"description": "no such message"}, 409: {"description": "nothing open to resolve"}},
)
def resolve(
    message_id: MessageId,
    body: ResolveRequest,
    gw: Gateway = Depends(get_gateway),
    caller: Caller = Depends(operator),
) -> dict[str, Any]:
    try:
        kinds = attention.resolve(gw.store, message_id, note=body.note, actor=caller.actor, kind=body.kind)
    except NotFoundError as exc:
        raise HTTPException(404, exc.message) from exc
    except InvalidActionError as exc:
        raise HTTPException(409, exc.describe()) from exc
    return {"message_id": message_id, "resolved": kinds, "actor": caller.actor}
