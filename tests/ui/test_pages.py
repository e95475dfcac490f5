"""The support page over plain HTTP (no browser needed): escaping, the session cookie, CSRF, sign-out, filters
validated like the API, a bounded payload view."""

from __future__ import annotations

import re

import httpx
import pytest

from gateway.api.ui.views import payload_view
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.apikeys import ApiKeys
from tests.support.api_server import ApiServer
from tests.support.gateway_home import make_home


@pytest.fixture
def site(tmp_path):
    home = make_home(tmp_path)
    gw = Gateway(load_settings(home / "config" / "gateway.yaml"))
    token = ApiKeys(gw.engine).create("desk", "operator")[1]
    with ApiServer(gw) as server, httpx.Client(base_url=server.url, timeout=10) as c:
        yield gw, c, token
    gw.stop()


def sign_in(c, token):
    r = c.post("/ui/login", data={"api_key": token, "next": "/ui/messages"})
    assert r.status_code == 303 and r.headers["location"] == "/ui/messages"
    return r


def test_cookie_csrf_signout_and_escaping(site):
    gw, c, token = site
    assert c.get("/ui/messages").status_code == 303  # to the sign-in page
    r = sign_in(c, token)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("gw_session=") and token not in cookie
    assert all(attr in cookie.lower() for attr in ("httponly", "samesite=strict", "path=/ui"))
    evil, _ = gw.store.create_message(
        events=[("message.received", "failed", {"note": "<img src=x onerror=alert(1)>"})], direction="inbound",
        status="failed", file_name="<script>alert(1)</script>.edi", reason="<b>bad</b>", sha256="0" * 64,
    )  # fmt: skip
    page = c.get(f"/ui/messages/{evil.id}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bad</b>" not in page and "<img src=x" not in page
    listing = c.get("/ui/messages", params={"q": "<script>"}).text
    assert "<script>alert" not in listing
    # an action posted without the session's CSRF token does nothing
    r = c.post(f"/ui/messages/{evil.id}/reprocess", data={"csrf": "forged"})
    assert r.status_code == 403
    assert not [e for e in gw.store.events(evil.id) if e.name == "message.reprocess_requested"]
    # sign out (with the token from the page) ends the session on the server
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert c.post("/ui/logout", data={"csrf": csrf}).status_code == 303
    c.cookies.clear()
    c.cookies.set("gw_session", cookie.split(";")[0].split("=", 1)[1], path="/ui")
    assert c.get("/ui/messages").status_code == 303


def test_filters_are_validated_like_the_api(site):
    _gw, c, token = site
    sign_in(c, token)
    r = c.get("/ui/messages", params={"set_id": "85", "since": "2026-12-02T00:00", "until": "2026-12-01T00:00"})
    assert r.status_code == 422 and "Check the filters" in r.text and "set_id" in r.text
    r = c.get("/ui/messages", params={"status": "failed", "direction": "inbound", "partner": "harbor-3pl"})
    assert r.status_code == 200 and "0 messages" in r.text
    assert c.get("/ui/messages/424242").status_code == 404
    assert c.get("/ui/login", params={"next": "https://evil.example/"}).text.count("https://evil.example") == 0


def test_payload_view_is_bounded_and_reads_segments(repo_root):
    import io

    data = (repo_root / "samples/x12/856/harbor-3pl-crossdock.edi").read_bytes()
    view = payload_view(io.BytesIO(data), limit=5)
    assert view.kind == "x12" and [s.id for s in view.segments] == ["ISA", "GS", "ST", "BSN", "HL"]
    assert view.more_segments and view.segments[3].elements[:2] == ["00", "000009"]
    text = payload_view(io.BytesIO(b"po,sku\n1,2\n"))
    assert text.kind == "text" and "po,sku" in text.text
    assert payload_view(io.BytesIO(b"\x00\x01binary")).kind == "binary"
