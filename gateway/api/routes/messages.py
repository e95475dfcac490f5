"""Messages: list (newest first, paginated) and detail (metadata, control numbers, acknowledgements, timeline)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from gateway.api.deps import get_gateway
from gateway.api.schemas import AckOut, EventOut, MessageDetail, MessagePage, MessageSummary, interchanges_out
from gateway.errors import NotFoundError
from gateway.runtime import Gateway
from gateway.store.models import Direction, MessageStatus

router = APIRouter(prefix="/api/messages", tags=["messages"])


@router.get("", response_model=MessagePage, summary="Messages, newest first")
def list_messages(
    page: int = Query(1, ge=1),
    limit: int = Query(50, ge=1, le=500),
    partner: str | None = Query(None, description="partner id"),
    direction: Direction | None = None,
    status: MessageStatus | None = None,
    gw: Gateway = Depends(get_gateway),
) -> MessagePage:
    res = gw.store.list_messages(page=page, limit=limit, partner_id=partner, direction=direction, status=status)
    return MessagePage(items=[MessageSummary.of(m) for m in res.items], total=res.total, page=res.page, limit=res.limit)


@router.get("/{message_id}", response_model=MessageDetail, responses={404: {"description": "no such message"}})
def get_message(message_id: int = Path(ge=1), gw: Gateway = Depends(get_gateway)) -> MessageDetail:
    try:
        m = gw.store.get(message_id)
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=exc.message) from exc
    base = MessageSummary.of(m).model_dump()
    return MessageDetail(
        **base,
        transport_id=m.transport_id,
        content_type=m.content_type,
        error=m.error,
        interchanges=interchanges_out(gw.store.lineage(message_id)),
        acknowledgements=[AckOut.of(a) for a in gw.store.acks_of(message_id)],
        acknowledges=[AckOut.of(a) for a in gw.store.acked_by(message_id)],
        timeline=[EventOut.of(e) for e in gw.store.events(message_id)],
    )
