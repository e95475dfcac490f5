"""A request id on every answer (``X-Request-ID``) and on every log line written while serving it.

A caller's own ``X-Request-ID`` (1-64 letters, digits, ``.``, ``_``, ``-``) is kept, so a client can follow one
call through our logs; otherwise a new one is made. One ``http.request`` line per request records method,
route path, status and duration (never the query string or headers: they may hold search terms or keys).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from gateway.logging import get_logger, log_context

HEADER = "x-request-id"
VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = get_logger("gateway.api")


class RequestIdMiddleware:
    """Pure ASGI middleware (no response buffering, streaming answers stay streams)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(HEADER.encode(), b"").decode("latin-1")
        rid = incoming if VALID.match(incoming) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        status = {"code": 500}
        started = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER.encode()]
                headers.append((HEADER.encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with log_context(request_id=rid):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                path = scope.get("path", "")
                if not path.startswith(("/ui/static", "/static/")):
                    log.info(
                        "http.request",
                        extra={"fields": {
                            "method": scope.get("method"), "path": path, "status": status["code"],
                            "ms": round((time.perf_counter() - started) * 1000, 1),
                        }},
                    )  # fmt: skip
