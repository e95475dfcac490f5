"""``POST /api/documents``: submit canonical records to send to a partner (operator role).

The body is the records as received: canonical JSON (one record, a list, or ``{"documents": [...]}``), CSV or
XML, told apart by ``Content-Type``. The partner, and optionally the set and version, are query parameters.
With an ``Idempotency-Key`` header the same key and body answer the same message (kept as long as the message,
at least 7 days); the same key with another body is a 409. The answer is synchronous: the message with its
three statuses; a document that cannot be valid X12 is recorded ``invalid`` and answered 422 with every problem
(JSON path and X12 element).
"""

from __future__ import annotations

import tempfile
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gateway.api.auth import Caller, operator
from gateway.api.deps import get_gateway
from gateway.api.schemas import MessageSummary
from gateway.errors import GatewayError, NotFoundError
from gateway.flows.documents import IdempotencyConflict
from gateway.runtime import Gateway

router = APIRouter(prefix="/api/documents", tags=["documents"])
MAX_BODY = 256 * 1024 * 1024  # bytes; a larger submission is refused with 413 before anything is kept
SPOOL = 1024 * 1024


class ProblemOut(BaseModel):
    path: str = Field(description="JSON path into the submission, e.g. $[0].orders[0].lines[1].quantity_shipped")
    message: str
    x12: str | None = Field(None, description="the X12 element, e.g. W06-02")
    code: str


class SubmitResult(BaseModel):
    messages: list[MessageSummary]
    created: bool = Field(description="false when the Idempotency-Key was seen before with this body")
    valid: bool
    problems: list[ProblemOut] = Field(default_factory=list)


@router.post(
    "",
    response_model=SubmitResult,
    status_code=201,
    summary="Submit records to send to a partner (operator)",
    responses={
        200: {"description": "the same Idempotency-Key and body as before: the same message", "model": SubmitResult},
        202: {"description": "the same Idempotency-Key is being built by another request: ask again"},
        404: {"description": "no such partner"},
        409: {"description": "the Idempotency-Key was used for another body"},
        413: {"description": "the body is too large"},
        422: {"description": "the records cannot become a valid document: every problem", "model": SubmitResult},
    },
)
async def submit(
    request: Request,
    partner: str = Query(..., max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]*$", description="partner id"),
    set_id: str | None = Query(None, pattern=r"^\d{3}$", description="transaction set, e.g. 945 (default: the "
                                                                     "partner's declared outbound document)"),
    version: str | None = Query(None, pattern=r"^\d{6}[A-Z0-9]{0,6}$", description="e.g. 004010UCS"),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", min_length=1, max_length=200,
                                         pattern=r"^[\x21-\x7e]+$"),
    gw: Gateway = Depends(get_gateway),
    caller: Caller = Depends(operator),
) -> Any:
    if gw.registry.get(partner) is None:
        raise HTTPException(404, f"no partner {partner!r}: see GET /api/partners")
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 - closed below
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise HTTPException(413, f"the body is larger than {MAX_BODY} bytes: split the submission")
            body.write(chunk)
        if size == 0:
            raise HTTPException(422, [{"loc": ["body"], "msg": "the body is empty: send the records to send"}])
        body.seek(0)
        try:
            result = await run_in_threadpool(
                gw.documents.submit,
                body,  # type: ignore[arg-type]
                partner_id=partner,
                content_type=request.headers.get("content-type"),
                set_id=set_id,
                version=version,
                idempotency_key=idempotency_key,
                actor=caller.actor,
                source="api",
            )
        except IdempotencyConflict as exc:
            raise HTTPException(409, exc.describe()) from exc
        except NotFoundError as exc:
            raise HTTPException(404, exc.describe()) from exc
        except GatewayError as exc:
            raise HTTPException(503, exc.describe()) from exc
    finally:
        body.close()
    out = SubmitResult(
        messages=[MessageSummary.of(result.message)],
        created=result.created,
        valid=result.valid,
        problems=[ProblemOut(**p) for p in result.problems],
    )
    if result.message.validation_status is None:  # the same key is being built right now by another request
        code = 202
    else:
        code = 422 if not result.valid else (201 if result.created else 200)
    return JSONResponse(out.model_dump(mode="json"), status_code=code)
