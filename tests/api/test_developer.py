"""The API as a client developer meets it: declared security schemes (Swagger's Authorize), error bodies in the
schema, self-hosted docs, a request id on every answer and every log line of the request, and a helpful 401
for `Authorization: KEY` without `Bearer`."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest

from gateway.logging import JsonFormatter
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.apikeys import ApiKeys
from tests.support.api_server import ApiServer
from tests.support.gateway_home import drop, make_home, wait_for


@pytest.fixture
def api(tmp_path):
    home = make_home(tmp_path)
    gw = Gateway(load_settings(home / "config" / "gateway.yaml", folder={"min_age_seconds": 0.1, "sweep_seconds": 0.5}))
    gw.start()
    token = ApiKeys(gw.engine).create("dev", "operator")[1]
    with ApiServer(gw) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield gw, client, token
    gw.stop()


def test_openapi_declares_security_errors_and_request_id(api):
    _gw, c, _token = api
    spec = c.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["BearerKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "gw_...",
        "description": schemes["BearerKey"]["description"],
    }
    assert schemes["ApiKeyHeader"]["in"] == "header" and schemes["ApiKeyHeader"]["name"] == "X-API-Key"
    resend = spec["paths"]["/api/messages/{message_id}/resend"]["post"]
    assert {"BearerKey": []} in resend["security"] and {"ApiKeyHeader": []} in resend["security"]
    for code in ("401", "403", "404", "409", "410"):
        schema = resend["responses"][code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}, code
    assert "422" in resend["responses"]
    assert "X-Request-ID" in resend["responses"]["200"]["headers"]
    assert "security" not in spec["paths"]["/api/health"]["get"]
    assert "Authorize" in spec["info"]["description"]
    # every field and parameter described, every operation explained, search parameters with examples
    undocumented = [
        f"{name}.{prop}"
        for name, comp in spec["components"]["schemas"].items()
        for prop, ps in comp.get("properties", {}).items()
        if "description" not in ps and name not in ("ValidationError",)
    ]
    assert undocumented == []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("description"), f"{method} {path}"
            for p in op.get("parameters", []):
                assert p.get("description") or p["schema"].get("description"), f"{method} {path} {p['name']}"
    search = {p["name"]: p for p in spec["paths"]["/api/messages"]["get"]["parameters"]}
    assert search["q"]["example"] == "POREF01"
    summary = spec["components"]["schemas"]["MessageSummary"]["properties"]
    assert summary["status"]["examples"] == ["acked"]


def test_docs_are_self_hosted(api):
    _gw, c, _token = api
    for page, asset in (("/docs", "/static/docs/swagger-ui-bundle.js"), ("/redoc", "/static/docs/redoc.standalone.js")):
        html = c.get(page).text
        assert asset in html and "cdn" not in html.lower() and "fonts.googleapis" not in html
        assert c.get(asset).status_code == 200


def test_bare_key_and_wrong_scheme_get_a_message_that_says_so(api):
    _gw, c, token = api
    r = c.get("/api/messages", headers={"Authorization": token})
    assert r.status_code == 401 and "Bearer" in r.json()["detail"] and token not in r.text
    r = c.get("/api/messages", headers={"Authorization": f"Basic {token}"})
    assert r.status_code == 401 and "'Basic' is not supported" in r.json()["detail"]
    r = c.get("/api/messages", headers={"Authorization": "not-a-gw-key-but-secret"})
    assert r.status_code == 401 and "not-a-gw" not in r.text
    assert c.get("/api/messages", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert c.get("/api/messages", headers={"X-API-Key": token}).status_code == 200


def test_request_id_on_every_answer_and_log_line(api, repo_root):
    gw, c, token = api
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.INFO)
    try:
        inbox = gw.settings.data_path / "channels/harbor-3pl/inbound"
        drop(repo_root / "samples/x12/856/harbor-3pl-crossdock.edi", inbox)
        asn = wait_for(lambda: [m for m in gw.store.list_messages(limit=5).items if m.status == "acked"], timeout=15)[0]
        ack_id = gw.store.acks_of(asn.id)[0].ack_message_id
        for path, headers in (("/api/health", {}), ("/api/messages/999999", {}), ("/ui/login", {})):
            r = c.get(path, headers=headers)
            assert len(r.headers["x-request-id"]) == 16, path
        r = c.post(f"/api/messages/{ack_id}/resend", headers={"Authorization": f"Bearer {token}",
                                                              "X-Request-ID": "support-ticket-4711"})  # fmt: skip
        assert r.status_code == 200 and r.headers["x-request-id"] == "support-ticket-4711"
        bad = c.get("/api/health", headers={"X-Request-ID": "no spaces\tor tabs"})
        assert bad.headers["x-request-id"] != "no spaces\tor tabs"
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    mine = [e for e in lines if e.get("request_id") == "support-ticket-4711"]
    events = {e["event"] for e in mine}
    assert "http.request" in events and len(events) >= 2, events  # the flow's own lines carry it too
    access = next(e for e in mine if e["event"] == "http.request")
    assert access["status"] == 200 and access["method"] == "POST" and token not in buf.getvalue()
