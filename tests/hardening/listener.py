"""A real HTTP listener on loopback that records every request it gets (the target an attacker would aim at)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.http_server import serving


@contextmanager
def listener() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """Yields (base URL, requests received as (path, body))."""
    got: list[tuple[str, bytes]] = []

    async def record(request: Request) -> Response:
        got.append((request.url.path, await request.body()))
        return Response(b"ok")

    app = Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST", "PUT"])])
    with serving(app, lifespan="off") as base:
        yield base, got
