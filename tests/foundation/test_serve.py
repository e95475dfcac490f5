"""``gateway serve`` as a new user runs it: a real process, the real HTTP API, real folders."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.apikeys import create_key
from tests.support.gateway_home import drop, make_home, wait_for
from tests.support.serve import ServeProcess


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


@pytest.fixture
def key(home):
    return create_key(home, name="foundation-tests", role="viewer")


def messages(url: str, key: str) -> list[dict]:
    return httpx.get(f"{url}/api/messages", headers={"X-API-Key": key}, timeout=5).json()["items"]


def test_serve_health_then_sample_856_flows_within_5s(home, repo_root, key):
    gw = ServeProcess(home)
    try:
        assert gw.wait_healthy(timeout=10) < 10
        assert httpx.get(f"{gw.url}/api/ready", timeout=5).json()["status"] == "ready"
        src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
        inbox = home / "var" / "channels" / "harbor-3pl" / "inbound"
        t0 = time.monotonic()
        drop(src, inbox)

        def acked():
            items = [m for m in messages(gw.url, key) if m["file_name"] == src.name and m["status"] == "acked"]
            return items[0] if items else None

        summary = wait_for(acked, timeout=5)
        elapsed = time.monotonic() - t0
        assert elapsed < 5
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{gw.url}/api/messages", timeout=5).status_code == 401  # a key is required
        detail = httpx.get(f"{gw.url}/api/messages/{summary['id']}", headers=auth, timeout=5).json()
        ic = detail["interchanges"][0]
        assert ic["control_number"] == "000000091" and ic["groups"][0]["control_number"] == "91"
        assert ic["groups"][0]["transactions"][0] == {
            "set_id": "856",
            "control_number": "0001",
            "segment_count": 57,
            "valid": True,
        }
        assert [e for e in detail["timeline"] if e["status"]][-1]["status"] == "acked"  # mapping events follow
        assert [a["kind"] for a in detail["acknowledgements"]] == ["997"]
        outbox = home / "var" / "channels" / "harbor-3pl" / "outbound"
        assert [p.name for p in outbox.iterdir() if p.name.endswith(".x12")]
        assert (inbox / "processed" / src.name).exists()
        assert httpx.get(f"{gw.url}/api/messages/999999", headers=auth, timeout=5).status_code == 404
        assert httpx.get(f"{gw.url}/api/messages?limit=0", headers=auth, timeout=5).status_code == 422
    finally:
        gw.stop()


def test_killed_between_archived_and_acked_processes_once_after_restart(home, repo_root, key):
    src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    inbox = home / "var" / "channels" / "harbor-3pl" / "inbound"
    first = ServeProcess(home, env={"GATEWAY_FAILPOINTS": "inbound.after_archive=exit"})
    try:
        first.wait_healthy()
        drop(src, inbox)
        assert first.wait_exit(timeout=15) == 77, first.output()  # died right after archiving
    finally:
        first.stop()
    assert (inbox / src.name).exists(), "the source is still in the inbox: it was never committed"

    second = ServeProcess(home)
    try:
        second.wait_healthy()

        def settled():
            items = messages(second.url, key)
            done = [m for m in items if m["status"] == "acked"]
            return items if done and not (inbox / src.name).exists() else None

        items = wait_for(settled, timeout=10)
        time.sleep(2.5)  # one more sweep: nothing new may appear
        items = messages(second.url, key)
        inbound = [m for m in items if m["direction"] == "inbound"]
        outbound = [m for m in items if m["direction"] == "outbound"]
        assert len(inbound) == 1 and inbound[0]["status"] == "acked"
        assert len(outbound) == 1  # exactly one 997
        outbox = home / "var" / "channels" / "harbor-3pl" / "outbound"
        assert len([p for p in outbox.iterdir() if p.name.endswith(".x12")]) == 1
        assert len(list((inbox / "processed").iterdir())) == 1
    finally:
        second.stop()
