"""A real Chromium (Debian's /usr/bin/chromium, installed by scripts/services.sh) driven by Playwright, against the
real API server around a real gateway. Screenshots go to ``test-artifacts/ui/`` (git-ignored), one per page."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.apikeys import ApiKeys
from tests.support.api_server import ApiServer
from tests.support.gateway_home import drop, make_home, settled_message
from tests.support.services import unavailable

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("GATEWAY_TEST_ARTIFACTS", REPO / "test-artifacts")) / "ui"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (scripts/services.sh installs Debian's chromium with apt-get)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a test dependency
        unavailable("playwright for Python is not installed (pip install -e .[test])")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    pg = ctx.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    ctx.close()


def shot(page: Any, name: str) -> Path:
    out = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    return out


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    home = make_home(tmp_path)
    settings = load_settings(home / "config" / "gateway.yaml", folder={"min_age_seconds": 0.1, "sweep_seconds": 0.5})
    gw = Gateway(settings)
    gw.start()
    keys = ApiKeys(gw.engine)
    tokens = {role: keys.create(f"{role}-desk", role)[1] for role in ("viewer", "operator")}
    tokens["revoked"] = keys.create("gone", "operator")[1]
    keys.revoke("gone")
    with ApiServer(gw) as server:
        yield {"gw": gw, "url": server.url, "tokens": tokens, "server": server}
    gw.stop()


def receive(gw: Gateway, partner: str, sample: str) -> Any:
    src = REPO / "samples" / "x12" / sample
    drop(src, gw.settings.data_path / "channels" / partner / "inbound")
    return settled_message(gw, src.name)


def clean_artifacts() -> None:  # pragma: no cover - manual helper
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
