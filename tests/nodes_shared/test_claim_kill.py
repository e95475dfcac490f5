"""A node killed (SIGKILL) right after claiming a file of a shared inbox: another node takes the file over and
processes it once (fail point ``folder.after_claim``): once the dead node's lease file is stale, or at once when
the node registry shows the dead node gone (its heartbeat stopped), however long the stale time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.nodes_shared.support import inbox, node_env, node_home, order_940, outbox, rows, shared_database
from tests.support.gateway_home import wait_for
from tests.support.serve import ServeProcess

pytestmark = pytest.mark.postgres


def claimed_by_a_killed_node(tmp_path: Path, shared: Path, env: dict[str, str]) -> Path:
    """Node A claims order.x12 and is killed at once (SIGKILL): the file waits in A's working folder, nothing is
    recorded. Returns the inbox."""
    a = ServeProcess(node_home(tmp_path / "a", shared), env={**env, "GATEWAY_NODE_ID": "node-a",
                                                               "GATEWAY_FAILPOINTS": "folder.after_claim=kill"})
    try:
        a.wait_healthy(timeout=60)
        folder = inbox(shared)
        (folder / ".order.x12.part").write_bytes(order_940(42))
        (folder / ".order.x12.part").rename(folder / "order.x12")
        assert a.wait_exit(timeout=60) == -9, a.output()
    finally:
        a.stop()
    assert (folder / ".claimed" / "node-a" / "order.x12").is_file() and not (folder / "order.x12").exists()
    return folder


def taken_over_and_processed_once(url: str, shared: Path, folder: Path, taker: ServeProcess) -> None:
    wait_for(lambda: (folder / "processed" / "order.x12").is_file(), timeout=60)
    wait_for(lambda: rows(url, "SELECT id FROM event WHERE name='mapping.done'"), timeout=30)
    inbound = rows(url, "SELECT id, status, transport_id FROM message WHERE direction='inbound'")
    assert [(r[1], r[2]) for r in inbound] == [("acked", str(folder / "order.x12"))]  # the inbox path
    assert len(rows(url, "SELECT id FROM message WHERE direction='outbound'")) == 1  # one 997
    assert len(list(outbox(shared).glob("*.x12"))) == 1
    assert not (folder / ".claimed" / "node-a").exists()  # the dead node's working folder is gone
    assert "folder.claims_taken_over" in taker.log.read_text()


def test_a_file_claimed_by_a_node_killed_at_once_is_taken_over_and_processed_once(tmp_path):
    shared = tmp_path / "shared"
    with shared_database() as url:
        env = node_env(url, shared, GATEWAY_FOLDER__CLAIM_STALE_SECONDS="2")
        folder = claimed_by_a_killed_node(tmp_path, shared, env)
        assert rows(url, "SELECT id FROM message") == []
        b = ServeProcess(node_home(tmp_path / "b", shared), env={**env, "GATEWAY_NODE_ID": "node-b"})
        try:
            b.wait_healthy(timeout=60)
            taken_over_and_processed_once(url, shared, folder, b)
        finally:
            b.stop()


def test_a_killed_node_the_registry_shows_gone_loses_its_claim_without_the_stale_time(tmp_path):
    """The claim stale time is 10 minutes, the heartbeat 1 s: node B takes the killed node's file as soon as the
    registry shows A gone (three missed heartbeats), as it would take A's message leases."""
    shared = tmp_path / "shared"
    with shared_database() as url:
        env = node_env(url, shared, GATEWAY_FOLDER__CLAIM_STALE_SECONDS="600", GATEWAY_NODE_HEARTBEAT_SECONDS="1")
        folder = claimed_by_a_killed_node(tmp_path, shared, env)
        killed = time.monotonic()
        assert rows(url, "SELECT node_id FROM gateway_node WHERE stopped_at IS NULL") == [("node-a",)]  # no clean stop
        b = ServeProcess(node_home(tmp_path / "b", shared), env={**env, "GATEWAY_NODE_ID": "node-b"})
        try:
            b.wait_healthy(timeout=60)
            taken_over_and_processed_once(url, shared, folder, b)
        finally:
            b.stop()
        took = time.monotonic() - killed
        assert took < 120, f"taken over {took:.0f} s after the kill"  # by the lease file's age: 600 s
        assert '"node_gone": true' in b.log.read_text()
