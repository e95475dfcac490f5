"""``POST /api/webhooks/{partner}``: a partner pushes a document. Thin: read the body (bounded), let the
partner's :class:`~gateway.transports.webhook.WebhookReceiver` check it, let the inbound flow archive and
process it, answer. The 2xx comes only after the bytes are archived and recorded; a delivery id seen before
answers 200 again without a second message."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gateway.api.deps import get_gateway
from gateway.errors import GatewayError, PayloadTooLargeError, SecurityError, StoreError
from gateway.logging import get_logger
from gateway.runtime import Gateway

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])
log = get_logger(__name__)


def _problem(status: int, error: GatewayError) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error.to_dict()})


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body ({declared} bytes) is over the {limit} byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLargeError(f"the body is over the {limit} byte limit")
    return bytes(body)


@router.post(
    "/{partner}",
    summary="Receive a signed document from a partner",
    responses={401: {"description": "bad signature or timestamp"}, 404: {"description": "no webhook channel"},
               413: {"description": "body over the size limit"}, 503: {"description": "store unavailable"}},
)
async def receive_webhook(partner: str, request: Request, gw: Gateway = Depends(get_gateway)) -> JSONResponse:
    receiver = gw.webhooks.get(partner)
    if receiver is None:
        return _problem(404, GatewayError(f"partner {partner!r} has no inbound webhook channel"))
    try:
        body = await _read_bounded(request, receiver.settings.max_bytes)
        item = receiver.handle(body, request.headers)
    except PayloadTooLargeError as exc:
        log.warning("webhook.too_large", extra={"fields": {"partner_id": partner, "error": str(exc)}})
        return _problem(413, exc)
    except SecurityError as exc:
        log.warning("webhook.rejected", extra={"fields": {"partner_id": partner, "error": str(exc)}})
        return _problem(401, exc)
    duplicate = gw.store.find_by_key(item.idempotency_key) is not None
    try:
        msg = await run_in_threadpool(gw.inbound.receive, item)
    except StoreError as exc:
        return _problem(503, exc)
    if msg is None:
        return _problem(503, GatewayError("the body could not be archived; send it again"))
    return JSONResponse(
        status_code=200,
        content={"message_id": msg.id, "delivery_id": item.delivery_id, "status": msg.status, "duplicate": duplicate},
    )
