"""Messages: search (newest first, paginated), detail, payload, canonical records, resend, reprocess."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import StreamingResponse

from gateway.api.auth import Caller, operator, viewer
from gateway.api.deps import get_gateway
from gateway.api.guard import MAX_ID, QueryDateTime
from gateway.api.schemas import (
    ActionResult,
    MessageDetail,
    MessagePage,
    MessageSummary,
    message_detail,
)
from gateway.errors import InvalidActionError, NotFoundError, PayloadPurgedError
from gateway.flows import actions
from gateway.runtime import Gateway
from gateway.store.archive import CHUNK
from gateway.store.models import (
    AckStatus,
    DeliveryStatus,
    Direction,
    HandoffStatus,
    Message,
    MessageStatus,
    OutputKind,
    ValidationStatus,
)
from gateway.store.search import MessageQuery

router = APIRouter(prefix="/api/messages", tags=["messages"])
MessageId = Annotated[int, Path(ge=1, le=MAX_ID, description="message id")]
CONTENT_TYPES = {"x12": "application/edi-x12", "csv": "text/csv", "json": "application/json", "xml": "application/xml"}


def _utc(value: datetime | None) -> datetime | None:
    """Query datetimes without a zone are UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _message(gw: Gateway, message_id: int) -> Message:
    try:
        return gw.store.get(message_id)
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=exc.message) from exc


def _attachment(name: str) -> str:
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _stream(gw: Gateway, key: str) -> Iterator[bytes]:
    with gw.archive.open(key) as fp:
        while chunk := fp.read(CHUNK):
            yield chunk


@router.get("", response_model=MessagePage, summary="Search messages, newest first")
def search_messages(
    q: str | None = Query(
        None, max_length=200, description="free text: business keys (PO, BOL, PRO, tracking, SSCC ...) and file names"
    ),
    partner: str | None = Query(None, max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]*$", description="partner id"),
    direction: Direction | None = None,
    set_id: str | None = Query(None, pattern=r"^\d{3}$", description="transaction set id, e.g. 856"),
    status: MessageStatus | None = None,
    since: QueryDateTime | None = Query(None, description="created at or after (ISO 8601; UTC when no zone)"),
    until: QueryDateTime | None = Query(None, description="created before (ISO 8601; UTC when no zone)"),
    control_number: str | None = Query(
        None, min_length=1, max_length=15, pattern=r"^[A-Za-z0-9]+$", description="ISA13, GS06 or ST02"
    ),
    as2_message_id: str | None = Query(
        None, max_length=998, description="AS2 Message-ID (or any transport id: remote path, webhook delivery id)"
    ),
    validation_status: ValidationStatus | None = Query(None, description="outbound documents: valid, invalid"),
    delivery_status: DeliveryStatus | None = Query(None, description="pending, sent, delivered, failed, dead"),
    acknowledgement_status: AckStatus | None = Query(None, description="waiting, accepted, rejected, overdue ..."),
    handoff: HandoffStatus | None = Query(None, description="hand-off status, e.g. unrouted or dead"),
    page: int = Query(1, ge=1, le=100_000),
    limit: int = Query(50, ge=1, le=500),
    gw: Gateway = Depends(get_gateway),
    _caller: Caller = Depends(viewer),
) -> MessagePage:
    since, until = _utc(since), _utc(until)
    if since and until and since >= until:
        raise HTTPException(422, detail=[{"loc": ["query", "until"], "msg": "until must be after since"}])
    if as2_message_id is not None and not as2_message_id.strip().strip("<>").strip():
        # "<>" or blanks must not switch the filter off and list every message
        raise HTTPException(
            422, detail=[{"loc": ["query", "as2_message_id"], "msg": "as2_message_id is empty (leave it out instead)"}]
        )
    query = MessageQuery(
        q=q,
        partner=partner,
        direction=direction,
        set_id=set_id,
        status=status,
        since=since,
        until=until,
        control_number=control_number,
        transport_id=as2_message_id,
        validation_status=validation_status.value if validation_status else None,
        delivery_status=delivery_status.value if delivery_status else None,
        ack_status=acknowledgement_status.value if acknowledgement_status else None,
        handoff=handoff.value if handoff else None,
        page=page,
        limit=limit,
    )
    res = gw.store.search(query)
    return MessagePage(items=[MessageSummary.of(m) for m in res.items], total=res.total, page=res.page, limit=res.limit)


@router.get("/{message_id}", response_model=MessageDetail, responses={404: {"description": "no such message"}})
def get_message(
    message_id: MessageId, gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(viewer)
) -> MessageDetail:
    """Metadata, timeline, X12 lineage (control numbers), acknowledgement status, business keys, outputs."""
    _message(gw, message_id)
    return message_detail(gw.store, message_id)


@router.get(
    "/{message_id}/payload",
    summary="The raw bytes as received or sent",
    response_class=StreamingResponse,
    responses={404: {"description": "no such message"}, 410: {"description": "payload purged"}},
)
def get_payload(
    message_id: MessageId, gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(viewer)
) -> StreamingResponse:
    m = _act(lambda: actions.payload_available(gw.store, gw.archive, message_id, "downloading it"))
    assert m.archive_key is not None
    media = m.content_type or CONTENT_TYPES.get(m.document_format or "", "application/octet-stream")
    headers = {"Content-Disposition": _attachment(m.file_name or f"message-{m.id}"), "Content-Length": str(m.size)}
    return StreamingResponse(_stream(gw, m.archive_key), media_type=media, headers=headers)


@router.get(
    "/{message_id}/canonical",
    summary="The canonical records the mapping layer produced from this message",
    responses={404: {"description": "no such message, or no canonical records stored"}, 410: {"description": "purged"}},
)
def get_canonical(
    message_id: MessageId, gw: Gateway = Depends(get_gateway), _caller: Caller = Depends(viewer)
) -> StreamingResponse:
    m = _message(gw, message_id)
    outs = gw.store.outputs(message_id, OutputKind.canonical)
    if not outs:
        raise HTTPException(
            404,
            f"no canonical records are stored for message {m.id}: the mapping has not run for it "
            f"(status {m.status}, format {m.document_format or 'unknown'})",
        )
    out = outs[0]
    if out.purged_at is not None or not gw.archive.exists(out.archive_key):
        raise HTTPException(410, f"the canonical records of message {m.id} were purged from the archive")
    return StreamingResponse(_stream(gw, out.archive_key), media_type=out.content_type or "application/json")


def _act(fn: Callable[[], Message]) -> Message:
    try:
        return fn()
    except NotFoundError as exc:
        raise HTTPException(404, exc.message) from exc
    except PayloadPurgedError as exc:
        raise HTTPException(410, exc.message) from exc
    except InvalidActionError as exc:
        raise HTTPException(409, exc.describe()) from exc


ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such message"},
    409: {"description": "the action does not apply to this message"},
    410: {"description": "the payload was purged from the archive"},
}


@router.post(
    "/{message_id}/resend",
    response_model=ActionResult,
    summary="Deliver an outbound message again from its archived bytes (operator)",
    responses=ACTION_ERRORS,
)
def resend(
    message_id: MessageId, gw: Gateway = Depends(get_gateway), caller: Caller = Depends(operator)
) -> ActionResult:
    m = _act(
        lambda: actions.resend(
            store=gw.store,
            archive=gw.archive,
            registry=lambda: gw.registry,
            outbound=gw.retries,  # a transient failure is picked up by the retry sweep
            message_id=message_id,
            actor=caller.actor,
        )
    )
    return ActionResult(message=MessageSummary.of(m), action="resend", actor=caller.actor)


@router.post(
    "/{message_id}/reprocess",
    response_model=ActionResult,
    summary="Run the inbound flow again from the archived bytes (operator)",
    responses=ACTION_ERRORS,
)
def reprocess(
    message_id: MessageId,
    force: bool = Query(False, description="process a duplicate interchange anyway (recorded with the caller)"),
    gw: Gateway = Depends(get_gateway),
    caller: Caller = Depends(operator),
) -> ActionResult:
    m = _act(
        lambda: actions.reprocess(
            store=gw.store, archive=gw.archive, inbound=gw.inbound, message_id=message_id, actor=caller.actor,
            force=force,
        )
    )
    return ActionResult(message=MessageSummary.of(m), action="reprocess", actor=caller.actor)
