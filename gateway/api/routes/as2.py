"""``POST /as2``: the AS2 endpoint (messages and async MDNs). Thin: reads the body with a size limit and hands
raw bytes and headers to :class:`gateway.as2.receive.As2Receiver` (kept on ``app.state.as2_receiver``).

No API key here: AS2 authenticates each message by its signature (partner policy ``require_signed``).
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["as2"])


@router.post("/as2", summary="Receive an AS2 message or an asynchronous MDN", include_in_schema=True)
async def receive_as2(request: Request, background: BackgroundTasks) -> Response:
    receiver = getattr(request.app.state, "as2_receiver", None)
    if receiver is None:
        return PlainTextResponse("AS2 is not configured on this gateway\n", status_code=503)
    limit = receiver.own.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await run_in_threadpool(receiver.record_oversize, dict(request.headers), int(declared))
        return PlainTextResponse(f"request body larger than the limit of {limit} bytes\n", status_code=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            await run_in_threadpool(receiver.record_oversize, dict(request.headers), size)
            return PlainTextResponse(f"request body larger than the limit of {limit} bytes\n", status_code=413)
        chunks.append(chunk)
    result = await run_in_threadpool(receiver.handle, b"".join(chunks), list(request.headers.items()))
    if result.async_mdn is not None and getattr(request.app.state, "as2_mdn_delivery", None) is not None:
        background.add_task(request.app.state.as2_mdn_delivery.deliver, *result.async_mdn)
    return Response(content=result.body, status_code=result.status_code, headers=result.headers)
