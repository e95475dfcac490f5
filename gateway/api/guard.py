"""Input guards for the API: hostile query input gets a clean 4xx, never a 500.

* :class:`RejectNul` (ASGI middleware): a NUL byte anywhere in the path or the query string (``%00`` or raw) is
  refused with 400 before any route runs; no database accepts it in text, and no legitimate value holds it.
* :data:`QueryDateTime`: ``since``/``until`` filters are ISO 8601 date-times only (a bare number is refused rather
  than read as Unix seconds), and must stay within years 1..9999 once converted to UTC.
* :data:`MAX_ID`: ids are 64-bit signed integers on both stores (migration 0004 on PostgreSQL).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

MAX_ID = 2**63 - 1
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def _iso_only(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("not a date-time: use ISO 8601, e.g. 2026-01-31T12:00:00Z (numbers are not accepted)")
    return value


def _utc_in_range(value: datetime) -> datetime:
    """UTC (no zone means UTC), within years 1..9999 on both sides of the conversion."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        out = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date-time is out of range once converted to UTC (years 1 to 9999)") from None
    return out


QueryDateTime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_utc_in_range)]


class RejectNul:
    """ASGI middleware: 400 for a NUL byte in the path or query string."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            path: str = scope.get("path", "")
            if b"%00" in query or b"\x00" in query or "\x00" in path or b"%00" in scope.get("raw_path", b""):
                body = json.dumps(
                    {"detail": "the request holds a NUL byte (%00) in its path or query: remove it"}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
