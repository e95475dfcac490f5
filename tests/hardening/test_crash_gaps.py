"""The three crash gaps found by the kill -9 run (issue 12), each made deterministic by a fail point whose action
``kill`` sends the gateway SIGKILL at that exact step; a restart must finish the work exactly once."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.apikeys import create_key
from tests.support.gateway_home import drop, wait_for
from tests.support.serve import ServeProcess, killed_at

SAMPLE = ("x12", "856", "harbor-3pl-crossdock.edi")


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
    killed_at(home, point, lambda _: drop(src, inbox), env=db_env)
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


@pytest.mark.parametrize("point", ["acks.after_archive", "acks.after_create"])
def test_kill_9_while_answering_a_duplicate_leaves_one_linked_ta1(home, repo_root, key, db_env, point):
    """The same interchange twice; the TA1 025 answering the second one is recorded and linked in one transaction:
    a kill after archiving it or after recording it leaves, after a restart, exactly one TA1, linked, with its
    statuses, delivered once."""
    partner = home / "partners" / "harbor-3pl.yaml"
    partner.write_text(partner.read_text() + "acknowledgements: {send: none, ta1: always}\n")  # the TA1 alone
    src = repo_root.joinpath("samples", *SAMPLE)
    inbox = home / "var" / "channels" / "harbor-3pl" / "inbound"
    outbox = home / "var" / "channels" / "harbor-3pl" / "outbound"

    def inbound(url: str) -> dict[str, dict]:
        items = _get(url, key, "/api/messages").json()["items"]
        return {m["file_name"]: m for m in items if m["direction"] == "inbound"}

    def send_twice(first: ServeProcess) -> None:
        drop(src, inbox, "a.edi")  # no acknowledgement asked for: the fail point is not hit
        wait_for(lambda: inbound(first.url).get("a.edi", {}).get("status") == "acked", timeout=30)
        drop(src, inbox, "b.edi")  # killed answering the duplicate

    killed_at(home, point, send_twice, env=db_env, timeout=30)

    second = ServeProcess(home, env=db_env)
    try:
        second.wait_healthy(timeout=60)

        def settled():
            dup = inbound(second.url).get("b.edi")
            return dup if dup and dup["status"] == "duplicate" and not (inbox / "b.edi").exists() else None

        dup = wait_for(settled, timeout=30)
        time.sleep(2.5)  # one more folder sweep: nothing new may appear
        items = _get(second.url, key, "/api/messages").json()["items"]
        outbound = [m for m in items if m["direction"] == "outbound"]
        assert len(outbound) == 1 and outbound[0]["set_ids"] == ["TA1"], items
        ta1 = outbound[0]
        assert (ta1["validation_status"], ta1["delivery_status"], ta1["status"]) == ("valid", "delivered", "sent")
        detail = _get(second.url, key, f"/api/messages/{dup['id']}").json()
        assert [(a["kind"], a["result"], a["ack_message_id"]) for a in detail["acknowledgements"]] == [
            ("TA1", "R", ta1["id"])]
        names = [e["name"] for e in detail["timeline"]]
        assert names.count("ack.generated") == 1 and names.count("message.duplicate") == 1, names
        sent = [p for p in outbox.iterdir() if p.name.endswith(".x12")]
        assert len(sent) == 1 and b"*R*025" in sent[0].read_bytes(), sent  # TA1 ... rejected, note 025
    finally:
        second.stop()
