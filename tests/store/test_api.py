"""The support API over a real HTTP server, on both backends: keys and roles, search, detail, payload,
canonical, resend, reprocess, partners, stats. Real sample files flow through the real inbound flow."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.apikeys import ApiKeys
from gateway.store.models import MessageStatus
from gateway.store.retention import purge_archive
from tests.support.api_server import ApiServer
from tests.support.gateway_home import drop, make_home, settled_message


@pytest.fixture
def env(tmp_path, database_url):
    home = make_home(tmp_path)
    settings = load_settings(
        home / "config" / "gateway.yaml",
        database_url=database_url,
        folder={"min_age_seconds": 0.1, "sweep_seconds": 0.5},
    )
    gw = Gateway(settings)
    gw.start()
    keys = ApiKeys(gw.engine)
    tokens = {role: keys.create(f"{role}-desk", role)[1] for role in ("viewer", "operator", "admin")}
    with ApiServer(gw) as server:
        client = httpx.Client(base_url=server.url, timeout=10)
        yield gw, client, tokens
        client.close()
    gw.stop()


def h(token):
    return {"Authorization": f"Bearer {token}"}


def receive(gw, repo_root, partner, sample):
    src = repo_root / "samples" / "x12" / sample
    drop(src, gw.settings.data_path / "channels" / partner / "inbound")
    return settled_message(gw, src.name), src


def test_keys_required_roles_enforced_and_health_open(env):
    _gw, c, tokens = env
    assert c.get("/api/health").status_code == 200 and c.get("/api/ready").status_code == 200
    for path in ("/api/messages", "/api/messages/1", "/api/partners", "/api/stats", "/api/keys"):
        r = c.get(path)
        assert r.status_code == 401 and "API key" in r.json()["detail"], path
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert c.get("/api/messages", headers={"Authorization": "Bearer gw_nope"}).status_code == 401
    assert c.get("/api/messages", headers={"X-API-Key": tokens["viewer"]}).status_code == 200
    assert c.post("/api/messages/1/resend", headers=h(tokens["viewer"])).status_code == 403
    assert c.get("/api/keys", headers=h(tokens["operator"])).status_code == 403
    created = c.post("/api/keys", json={"name": "robot", "role": "viewer"}, headers=h(tokens["admin"]))
    assert created.status_code == 201 and created.json()["key"].startswith("gw_")
    assert c.get("/api/stats", headers=h(created.json()["key"])).status_code == 200
    assert c.delete("/api/keys/robot", headers=h(tokens["admin"])).status_code == 200
    assert c.get("/api/stats", headers=h(created.json()["key"])).status_code == 401
    listed = c.get("/api/keys", headers=h(tokens["admin"])).json()
    assert {k["name"] for k in listed} >= {"viewer-desk", "robot"} and all("key" not in k for k in listed)


def test_search_detail_payload_by_business_keys_from_real_files(env, repo_root):
    gw, c, tokens = env
    asn, src = receive(gw, repo_root, "harbor-3pl", "856/harbor-3pl-crossdock.edi")
    assert asn.status == MessageStatus.acked, asn.reason
    v = h(tokens["viewer"])
    # PO from PRF01, partial SSCC from MAN*GM, BOL from REF*BM, control numbers, file name
    for params in (
        {"q": "POREF00"},
        {"q": "715670002152377"},
        {"q": "000001", "set_id": "856"},
        {"control_number": "91"},
        {"q": src.name},
        {"partner": "harbor-3pl", "direction": "inbound"},
    ):
        page = c.get("/api/messages", params=params, headers=v).json()
        assert [m["id"] for m in page["items"]] == [asn.id] and page["total"] == 1, params
    assert c.get("/api/messages", params={"q": "POREF00", "partner": "acme-retail"}, headers=v).json()["total"] == 0
    detail = c.get(f"/api/messages/{asn.id}", headers=v).json()
    assert {"kind": "po", "value": "POREF00"} in detail["business_keys"]
    assert detail["ack_status"]["state"] == "A" and detail["ack_status"]["kind"] == "997"
    assert detail["interchanges"][0]["control_number"] == "000000091"
    ack_id = detail["acknowledgements"][0]["ack_message_id"]
    ack = c.get(f"/api/messages/{ack_id}", headers=v).json()
    assert ack["delivery_attempts"][0]["outcome"] == "sent"
    payload = c.get(f"/api/messages/{asn.id}/payload", headers=v)
    assert payload.status_code == 200 and payload.content == src.read_bytes()
    assert payload.headers["content-disposition"].startswith(f'attachment; filename="{src.name}"')
    # the mapping step stored the canonical records of the 856
    r = c.get(f"/api/messages/{asn.id}/canonical", headers=v)
    assert r.status_code == 200, r.text
    docs = r.json()["documents"]
    assert [d["type"] for d in docs] == ["shipment"]
    # a message that has no canonical records (the 997 we sent): a clear 404
    r = c.get(f"/api/messages/{ack_id}/canonical", headers=v)
    assert r.status_code == 404 and "no canonical records" in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"page": "x"}, "page"),
        ({"direction": "sideways"}, "direction"),
        ({"status": "lost"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"set_id": "85"}, "set_id"),
        ({"control_number": "1;DROP"}, "control_number"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "until"),
        ({"partner": "Bad Partner"}, "partner"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_malformed_parameters_get_422_naming_the_field(env, params, field):
    _gw, c, tokens = env
    r = c.get("/api/messages", params=params, headers=h(tokens["viewer"]))
    assert r.status_code == 422
    assert field in [e["loc"][-1] for e in r.json()["detail"]]


def test_unknown_ids_404(env):
    _gw, c, tokens = env
    for method, path in (
        ("GET", "/api/messages/424242"),
        ("GET", "/api/messages/424242/payload"),
        ("GET", "/api/messages/424242/canonical"),
        ("POST", "/api/messages/424242/resend"),
        ("POST", "/api/messages/424242/reprocess"),
    ):
        assert c.request(method, path, headers=h(tokens["operator"])).status_code == 404, path
    assert c.get("/api/messages/0", headers=h(tokens["viewer"])).status_code == 422


def test_resend_and_reprocess_recorded_with_the_key_name_and_purged_payload_refused(env, repo_root):
    gw, c, tokens = env
    asn, _src = receive(gw, repo_root, "harbor-3pl", "856/harbor-3pl-crossdock.edi")
    op = h(tokens["operator"])
    ack_id = gw.store.acks_of(asn.id)[0].ack_message_id
    outbox = gw.settings.data_path / "channels" / "harbor-3pl" / "outbound"
    sent = list(outbox.glob("*.x12"))
    for p in sent:  # the partner collected the 997 ... and lost it
        p.unlink()
    r = c.post(f"/api/messages/{ack_id}/resend", headers=op)
    assert r.status_code == 200 and r.json()["message"]["status"] == "sent"
    assert list(outbox.glob("*.x12")) == sent
    assert sent[0].read_bytes() == gw.archive.read_bytes(gw.store.get(ack_id).archive_key)
    ev = [e for e in gw.store.events(ack_id) if e.name == "message.resend_requested"]
    assert ev and ev[0].actor == "api-key:operator-desk"
    assert len(gw.store.delivery_attempts(ack_id)) == 2
    assert c.post(f"/api/messages/{asn.id}/resend", headers=op).status_code == 409  # inbound: reprocess instead
    r = c.post(f"/api/messages/{asn.id}/reprocess", headers=op)
    assert r.status_code == 200 and r.json()["message"]["status"] == "acked"
    names = [(e.name, e.actor) for e in gw.store.events(asn.id)]
    assert ("message.reprocess_requested", "api-key:operator-desk") in names
    assert len(gw.store.acks_of(asn.id)) == 1  # reprocessing never sends a second, different ack
    # purge everything finished, then the payload is gone but the metadata answers
    purge_archive(gw.store, gw.archive, before=datetime.now(UTC) + timedelta(seconds=1))
    for path in (f"/api/messages/{ack_id}/resend", f"/api/messages/{asn.id}/reprocess"):
        r = c.post(path, headers=op)
        assert r.status_code == 410 and "purged" in r.json()["detail"], path
    assert c.get(f"/api/messages/{asn.id}/payload", headers=op).status_code == 410
    detail = c.get(f"/api/messages/{asn.id}", headers=op).json()
    assert detail["purged_at"] and detail["timeline"][-1]["name"] == "archive.purged"


def test_partners_masked_and_stats(env, repo_root):
    gw, c, tokens = env
    receive(gw, repo_root, "harbor-3pl", "856/harbor-3pl-crossdock.edi")
    v = h(tokens["viewer"])
    partners = c.get("/api/partners", headers=v).json()
    assert {p["id"] for p in partners["items"]} == {p.id for p in gw.registry}
    text = json.dumps(partners)
    assert "password" not in text.lower() or "***" in text
    st = c.get("/api/stats", params={"days": 7}, headers=v).json()
    assert st["by_partner"]["harbor-3pl"] == 2  # the 856 and our 997
    assert st["by_direction"] == {"inbound": 1, "outbound": 1}
    assert st["by_day"][-1]["total"] == 2
    assert c.get("/api/stats", params={"days": 0}, headers=v).status_code == 422
