"""The CLI mirrors the API: real `gateway` commands against a gateway home that processed a real sample."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest

from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.migrate import head_revision
from gateway.store.models import Direction, MessageStatus
from tests.support.gateway_home import drop, make_home, wait_for
from tests.support.serve import GATEWAY, ServeProcess


def run(home, *args, ok=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    res = subprocess.run([str(GATEWAY), *args], cwd=home, env=env, capture_output=True, text=True, timeout=60)
    if ok:
        assert res.returncode == 0, res.stderr
    return res


@pytest.fixture
def home(tmp_path, repo_root):
    home = make_home(tmp_path)
    settings = load_settings(home / "config" / "gateway.yaml", folder={"min_age_seconds": 0.1, "sweep_seconds": 0.5})
    gw = Gateway(settings)
    gw.start()
    src = repo_root / "samples" / "x12" / "940" / "acme-retail-new-order.edi"
    drop(src, settings.data_path / "channels" / "acme-retail" / "inbound")
    try:
        wait_for(
            lambda: [m for m in gw.store.list_messages(direction=Direction.inbound).items
                     if m.status not in (MessageStatus.archived, MessageStatus.processing)],
        )  # fmt: skip
    finally:
        gw.stop()
    return home


@pytest.mark.slow
def test_search_show_resend_reprocess_purge(home):
    res = run(home, "messages", "search", "--json", "--direction", "inbound")
    page = json.loads(res.stdout)
    assert page["total"] == 1
    msg = page["items"][0]
    shown = json.loads(run(home, "messages", "show", str(msg["id"]), "--json").stdout)
    keys = {(k["kind"], k["value"]) for k in shown["business_keys"]}
    assert any(kind == "order" for kind, _v in keys), keys  # W05-02 indexed by the inbound flow
    order = next(v for kind, v in keys if kind == "order")
    found = run(home, "messages", "search", order)
    assert found.stdout.startswith(f"{msg['id']}\t") and "1 message(s)" in found.stderr
    text = run(home, "messages", "show", str(msg["id"])).stdout
    assert f"order={order}" in text and "message.archived" in text

    assert run(home, "messages", "show", "999999", ok=False).returncode == 1
    res = run(home, "messages", "resend", str(msg["id"]), ok=False)
    assert res.returncode == 1 and "inbound" in res.stderr
    assert "acked" in run(home, "messages", "reprocess", str(msg["id"])).stdout
    events = json.loads(run(home, "messages", "show", str(msg["id"]), "--json").stdout)["timeline"]
    assert any(e["name"] == "message.reprocess_requested" and e["actor"].startswith("cli") for e in events)
    ack_id = shown["acknowledgements"][0]["ack_message_id"]
    assert "sent" in run(home, "messages", "resend", str(ack_id)).stdout

    assert f"revision {head_revision()}" in run(home, "db", "upgrade").stdout
    assert run(home, "archive", "purge", ok=False).returncode == 2  # no retention configured: says so
    purged = json.loads(run(home, "archive", "purge", "--older-than-days", "1").stdout)
    assert purged["messages"] == 0  # nothing is that old


@pytest.mark.slow
def test_apikey_create_list_revoke_then_the_api_refuses_it(home):
    token = run(home, "apikey", "create", "--name", "desk", "--role", "viewer").stdout.strip()
    assert token.startswith("gw_")
    assert run(home, "apikey", "create", "--name", "desk", "--role", "viewer", ok=False).returncode == 2
    assert run(home, "apikey", "create", "--name", "x", "--role", "root", ok=False).returncode == 2
    listed = run(home, "apikey", "list").stdout
    assert "desk\tviewer" in listed and token not in listed
    gw = ServeProcess(home)
    try:
        gw.wait_healthy()
        assert httpx.get(f"{gw.url}/api/messages", headers={"X-API-Key": token}, timeout=5).status_code == 200
        run(home, "apikey", "revoke", "desk")
        assert httpx.get(f"{gw.url}/api/messages", headers={"X-API-Key": token}, timeout=5).status_code == 401
    finally:
        gw.stop()
