"""Hand-off: the pull inbox (``GET /api/inbox``, ``POST /api/inbox/confirm``) and a message's hand-off (status,
replay). Reading the inbox needs a viewer key; confirming and replaying change state and need an operator key."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from gateway.api.auth import Caller, operator, viewer
from gateway.api.deps import get_gateway
from gateway.api.guard import MAX_ID
from gateway.api.routes.messages import MessageId
from gateway.api.schemas import ActionResult, MessageSummary
from gateway.errors import InvalidActionError, NotFoundError
from gateway.runtime import Gateway

inbox_router = APIRouter(prefix="/api/inbox", tags=["hand-off"])
router = APIRouter(prefix="/api/messages", tags=["hand-off"])


class InboxPage(BaseModel):
    destination: str
    items: list[dict[str, Any]] = Field(description="events (see docs/handoff.md), oldest first")
    cursor: int = Field(description="pass as after= to read on; unchanged when nothing new came")


class Confirm(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=1000, description="event ids read from the inbox")
    destination: str | None = Field(None, description="the pull destination (default: the only one)")


class Confirmed(BaseModel):
    destination: str
    confirmed: list[str]
    unknown: list[str] = Field(description="ids not waiting in this inbox (unknown, or confirmed before)")


class HandoffRow(BaseModel):
    event_id: str
    destination: str
    event_type: str
    status: str
    attempts: int
    due_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


class HandoffOut(BaseModel):
    message_id: int
    status: str | None
    deliveries: list[HandoffRow]


def _pull_destination(gw: Gateway, name: str | None) -> str:
    names = gw.handoff.config.pull_destinations()
    if name is None:
        if len(names) == 1:
            return names[0]
        what = "no pull destination is configured" if not names else f"say which: destination={'|'.join(names)}"
        raise HTTPException(404 if not names else 422, f"{what} (config/handoff.yaml, docs/handoff.md)")
    if name not in names:
        raise HTTPException(404, f"{name!r} is not a pull destination (known: {', '.join(names) or 'none'})")
    return name


@inbox_router.get("", response_model=InboxPage, summary="Read events waiting in a pull inbox (viewer)")
def read_inbox(
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="the cursor of the previous page; 0 to start")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    destination: Annotated[str | None, Query(description="pull destination name")] = None,
    gw: Gateway = Depends(get_gateway),
    _caller: Caller = Depends(viewer),
) -> InboxPage:
    name = _pull_destination(gw, destination)
    rows = gw.handoff.outbox.inbox(name, after=after, limit=limit)
    return InboxPage(destination=name, items=[json.loads(r.body) for r in rows],
                     cursor=rows[-1].id if rows else after)


@inbox_router.post("/confirm", response_model=Confirmed, summary="Confirm events read from a pull inbox (operator)")
def confirm_inbox(
    body: Confirm, gw: Gateway = Depends(get_gateway), caller: Caller = Depends(operator)
) -> Confirmed:
    name = _pull_destination(gw, body.destination)
    done = gw.handoff.confirm(name, body.ids, actor=caller.actor)
    return Confirmed(destination=name, confirmed=done, unknown=[i for i in body.ids if i not in set(done)])


@router.get("/{message_id}/handoff", response_model=HandoffOut, summary="A message's hand-off deliveries (viewer)")
def handoff_status(
    message_id: MessageId, gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(viewer)
) -> HandoffOut:
    try:
        msg = gw.store.get(message_id)
    except NotFoundError as exc:
        raise HTTPException(404, exc.message) from exc
    rows = [HandoffRow(**r._mapping) for r in gw.handoff.outbox.of_message(message_id)]
    return HandoffOut(message_id=message_id, status=msg.handoff_status, deliveries=rows)


@router.post(
    "/{message_id}/handoff",
    response_model=ActionResult,
    summary="Hand the message's records off again, same event ids, to the destinations routed now (operator)",
    responses={404: {"description": "no such message"}, 409: {"description": "nothing to hand off"}},
)
def replay_handoff(
    message_id: MessageId, gw: Gateway = Depends(get_gateway), caller: Caller = Depends(operator)
) -> ActionResult:
    try:
        msg = gw.handoff.replay(message_id, actor=caller.actor)
    except NotFoundError as exc:
        raise HTTPException(404, exc.message) from exc
    except InvalidActionError as exc:
        raise HTTPException(409, exc.describe()) from exc
    return ActionResult(message=MessageSummary.of(msg), action="handoff", actor=caller.actor)
