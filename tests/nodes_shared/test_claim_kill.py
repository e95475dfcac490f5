"""A node killed (SIGKILL) right after claiming a file of a shared inbox: another node takes the file over once the
dead node's lease is stale and processes it once (fail point ``folder.after_claim``)."""

from __future__ import annotations

import pytest

from tests.nodes_shared.support import inbox, node_env, node_home, order_940, outbox, rows, shared_database
from tests.support.gateway_home import wait_for
from tests.support.serve import ServeProcess

pytestmark = pytest.mark.postgres


def test_a_file_claimed_by_a_node_killed_at_once_is_taken_over_and_processed_once(tmp_path):
    shared = tmp_path / "shared"
    with shared_database() as url:
        env = node_env(url, shared, GATEWAY_FOLDER__CLAIM_STALE_SECONDS="2")
        home_a, home_b = node_home(tmp_path / "a", shared), node_home(tmp_path / "b", shared)
        a = ServeProcess(home_a, env={**env, "GATEWAY_NODE_ID": "node-a",
                                      "GATEWAY_FAILPOINTS": "folder.after_claim=kill"})
        try:
            a.wait_healthy(timeout=60)
            folder = inbox(shared)
            (folder / ".order.x12.part").write_bytes(order_940(42))
            (folder / ".order.x12.part").rename(folder / "order.x12")
            assert a.wait_exit(timeout=60) == -9, a.output()
        finally:
            a.stop()
        claimed = folder / ".claimed" / "node-a" / "order.x12"
        assert claimed.is_file() and not (folder / "order.x12").exists()  # claimed, nothing recorded
        assert rows(url, "SELECT id FROM message") == []
        b = ServeProcess(home_b, env={**env, "GATEWAY_NODE_ID": "node-b"})
        try:
            b.wait_healthy(timeout=60)
            wait_for(lambda: (folder / "processed" / "order.x12").is_file(), timeout=60)
            wait_for(lambda: rows(url, "SELECT id FROM event WHERE name='mapping.done'"), timeout=30)
        finally:
            b.stop()
        inbound = rows(url, "SELECT id, status, transport_id FROM message WHERE direction='inbound'")
        assert [(r[1], r[2]) for r in inbound] == [("acked", str(folder / "order.x12"))]  # the inbox path
        assert len(rows(url, "SELECT id FROM message WHERE direction='outbound'")) == 1  # one 997
        assert len(list(outbox(shared).glob("*.x12"))) == 1
        assert not (folder / ".claimed" / "node-a").exists()  # the dead node's working folder is gone
        assert "folder.claims_taken_over" in b.log.read_text()
