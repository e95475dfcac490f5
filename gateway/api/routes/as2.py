"""``POST /as2``: the AS2 endpoint (messages and async MDNs). Thin: reads the body with a size limit and hands
raw bytes and headers to :class:`gateway.as2.receive.As2Receiver` (kept on ``app.state.as2_receiver``).

No API key here: AS2 authenticates each message by its signature (partner policy ``require_signed``). Before the
body is read, the AS2-From header says whether the sender is a partner we know: an unknown sender gets a much
smaller body limit (``edge.unknown_sender_max_body_bytes``) and a rate limit per client address (HTTP 429), so
unauthenticated input costs bounded memory, disk and time. The body is spooled to a temporary file (in the
receiver's ``spool_dir``) that the receiver archives and parses from the file: bodies over its ``stream_above``
are decrypted, decompressed and verified streaming, so memory does not grow with the body; bodies over
:data:`LARGE_BODY` are still handled one at a time (disk and CPU, not memory, are what they cost). An async MDN is never
sent from here: the receiver queues it as a stored work item and the route only wakes the delivery job.
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.as2.names import header_value
from gateway.as2.spool import spool_prefix
from gateway.logging import get_logger

router = APIRouter(tags=["as2"])
log = get_logger(__name__)
UNKNOWN_CONCURRENCY = 2  # unknown senders' requests processed at once; the others wait without holding a thread
LARGE_BODY = 8 * 1024 * 1024  # bodies this large are handled one at a time


def _known(receiver: Any, request: Request) -> bool:
    sender = header_value(request.headers.get("as2-from"))
    return bool(sender) and receiver.partners(sender) is not None


def _slots(request: Request, name: str, size: int) -> asyncio.Semaphore:
    slots = getattr(request.app.state, name, None)
    if slots is None:
        slots = asyncio.Semaphore(size)
        setattr(request.app.state, name, slots)
    return slots


def _too_large(limit: int, known: bool) -> PlainTextResponse:
    who = "" if known else " for a sender that is not a partner of this gateway"
    return PlainTextResponse(f"request body larger than the limit of {limit} bytes{who}\n", status_code=413)


@router.post(
    "/as2",
    summary="Receive an AS2 message or an asynchronous MDN",
    include_in_schema=True,
    responses={413: {"description": "body over the size limit"}, 429: {"description": "unknown sender, too fast"}},
)
async def receive_as2(request: Request) -> Response:
    receiver = getattr(request.app.state, "as2_receiver", None)
    if receiver is None:
        return PlainTextResponse("AS2 is not configured on this gateway\n", status_code=503)
    known = _known(receiver, request)
    limiter = getattr(request.app.state, "as2_unknown_senders", None)
    if not known and limiter is not None:
        wait = limiter.take(request.client.host if request.client else "?")
        if wait > 0:
            log.warning("as2.rate_limited", extra={"fields": {"retry_after": round(wait, 1)}})
            return PlainTextResponse(
                "too many requests from a sender that is not a partner of this gateway\n",
                status_code=429,
                headers={"Retry-After": str(max(1, round(wait)))},
            )
    limit = receiver.own.max_body_bytes if known else min(receiver.own.unknown_max_body_bytes,
                                                          receiver.own.max_body_bytes)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        await run_in_threadpool(receiver.record_oversize, dict(request.headers), int(declared), limit)
        return _too_large(limit, known)
    with tempfile.NamedTemporaryFile(prefix=spool_prefix(), dir=receiver.spool_dir) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                await run_in_threadpool(receiver.record_oversize, dict(request.headers), size, limit)
                return _too_large(limit, known)
            spool.write(chunk)
        spool.flush()
        slots = _slots(request, "as2_unknown_slots", UNKNOWN_CONCURRENCY) if not known else None
        if size > LARGE_BODY:
            slots = _slots(request, "as2_large_slots", 1)
        if slots is None:
            result = await run_in_threadpool(receiver.handle, spool, list(request.headers.items()))
        else:
            async with slots:
                result = await run_in_threadpool(receiver.handle, spool, list(request.headers.items()))
    delivery = getattr(request.app.state, "as2_mdn_delivery", None)
    if result.async_mdn is not None and delivery is not None:
        delivery.queued()  # the stored MDN is the work item; the scheduler delivers it, not this worker
    return Response(content=result.body, status_code=result.status_code, headers=result.headers)
