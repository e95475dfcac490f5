"""``gateway serve`` builds the API's routes before it listens (``gateway/api/warmup.py``): afterwards the first
requests, served over real HTTP, build no route on the event loop. The control, the same app without the warm-up,
shows that they otherwise would (FastAPI builds an included router's routes at the first request routed past it);
if a FastAPI upgrade stops doing that, the control fails and the warm-up can go."""

from __future__ import annotations

from collections.abc import Iterator

import fastapi.routing
import httpx
import pytest

from gateway.api.app import create_app
from gateway.api.warmup import warm_up
from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.support.as2_home import as2_home
from tests.support.http_server import serving

REQUESTS = ("/api/health", "/api/messages", "/api/no-such-route", "/as2")


@pytest.fixture
def gw(tmp_path) -> Iterator[Gateway]:
    gateway = Gateway(load_settings(as2_home(tmp_path) / "config" / "gateway.yaml"))
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def built(monkeypatch) -> list[str]:
    """The path of every API route FastAPI builds from now on (the real build runs; the list only records it)."""
    paths: list[str] = []
    context = fastapi.routing._EffectiveRouteContext
    build = context.from_api_route

    def recorded(**kwargs):
        paths.append(kwargs["original_route"].path)
        return build(**kwargs)

    monkeypatch.setattr(context, "from_api_route", staticmethod(recorded))
    return paths


def _first_requests(app: fastapi.FastAPI) -> list[int]:
    with serving(app, lifespan="off") as base:
        return [httpx.get(f"{base}{path}", timeout=10).status_code for path in REQUESTS]


def test_without_the_warm_up_the_first_requests_build_the_routes(gw, built):
    app = create_app(gw)
    assert _first_requests(app) == [200, 401, 404, 405]
    assert "/api/messages" in built and "/api/partners" in built and "/as2" in built


def test_after_the_warm_up_the_first_requests_build_nothing(gw, built):
    app = create_app(gw)
    warm_up(app)
    assert "/api/messages" in built and "/as2" in built  # built here, before serving
    built.clear()
    assert _first_requests(app) == [200, 401, 404, 405]
    assert built == []
