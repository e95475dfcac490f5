"""The three crash gaps found by the kill -9 run (issue 12), each made deterministic by a fail point whose action
``kill`` sends the gateway SIGKILL at that exact step; a restart must finish the work exactly once."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.apikeys import create_key
from tests.support.gateway_home import drop, make_home, wait_for
from tests.support.serve import ServeProcess

SAMPLE = ("x12", "856", "harbor-3pl-crossdock.edi")


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


@pytest.fixture
def db_env(database_url):
    """SQLite in the home's var/ (the embedded default), or a fresh PostgreSQL schema (several-node setups)."""
    return {} if database_url.startswith("sqlite") else {"GATEWAY_DATABASE_URL": database_url}


@pytest.fixture
def key(home, db_env):
    return create_key(home, name="crash-tests", role="viewer", env=db_env)


def _get(url: str, key: str, path: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"X-API-Key": key}, timeout=5)


@pytest.mark.parametrize("point", ["inbound.before_mapping", "acks.after_create", "archive.before_rename"])
def test_kill_9_at_fail_point_then_restart_finishes_the_message_once(home, repo_root, key, db_env, point):
    src = repo_root.joinpath("samples", *SAMPLE)
    inbox = home / "var" / "channels" / "harbor-3pl" / "inbound"
    archive = home / "var" / "archive"
    first = ServeProcess(home, env={**db_env, "GATEWAY_FAILPOINTS": f"{point}=kill"})
    try:
        first.wait_healthy(timeout=60)
        drop(src, inbox)
        assert first.wait_exit(timeout=60) == -9, first.output()  # SIGKILL, at the fail point
    finally:
        first.stop()
    if point == "archive.before_rename":
        assert list(archive.glob(".incoming-*")), "the kill left the temporary file (what the restart must clean)"

    second = ServeProcess(home, env=db_env)
    try:
        second.wait_healthy(timeout=60)

        def settled():
            items = _get(second.url, key, "/api/messages").json()["items"]
            inbound = [m for m in items if m["direction"] == "inbound" and m["status"] == "acked"]
            if not inbound or (inbox / src.name).exists():
                return None
            names = [e["name"] for e in _get(second.url, key, f"/api/messages/{inbound[0]['id']}").json()["timeline"]]
            return items if "mapping.done" in names else None

        wait_for(settled, timeout=60)
        time.sleep(2.5)  # one more folder sweep: nothing new may appear
        items = _get(second.url, key, "/api/messages").json()["items"]
        inbound = [m for m in items if m["direction"] == "inbound"]
        outbound = [m for m in items if m["direction"] == "outbound"]
        assert len(inbound) == 1 and inbound[0]["status"] == "acked", items
        assert len(outbound) == 1, items  # exactly one 997
        detail = _get(second.url, key, f"/api/messages/{inbound[0]['id']}").json()
        assert [(a["kind"], a["ack_message_id"]) for a in detail["acknowledgements"]] == [("997", outbound[0]["id"])]
        names = [e["name"] for e in detail["timeline"]]
        assert names.count("mapping.done") == 1 and names.count("ack.generated") == 1, names
        assert _get(second.url, key, f"/api/messages/{inbound[0]['id']}/canonical").status_code == 200
        outbox = home / "var" / "channels" / "harbor-3pl" / "outbound"
        assert len([p for p in outbox.iterdir() if p.name.endswith(".x12")]) == 1
        assert list(archive.glob(".incoming-*")) == []  # no temporary file left after the restart
    finally:
        second.stop()
