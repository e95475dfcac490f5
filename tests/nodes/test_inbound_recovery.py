"""Start-up recovery of inbound messages with two ``gateway serve`` nodes on one PostgreSQL store.

Node A receives a file and is stuck with it in flight (fail point ``inbound.after_archive=hang``: the thread stops,
the process and its heartbeat run on). Node B starts: its recovery and its own polls of the shared inbox leave the
message to A. A is killed with SIGKILL: once A is seen gone (three missed heartbeats) or its lease runs out, B
takes the message and processes it once: acknowledged, one 997, the file committed.
"""

from __future__ import annotations

import signal
import time

import httpx
import pytest
import sqlalchemy as sa

from tests.support.apikeys import create_key
from tests.support.gateway_home import drop, make_home, wait_for
from tests.support.postgres import scratch_database
from tests.support.serve import ServeProcess

pytestmark = pytest.mark.postgres
ENV = {"GATEWAY_LEASE_SECONDS": "3", "GATEWAY_NODE_HEARTBEAT_SECONDS": "0.5",
       "GATEWAY_FOLDER__CLAIM_STALE_SECONDS": "3"}


def _row(engine: sa.Engine) -> sa.Row | None:
    with engine.connect() as c:
        return c.execute(sa.text("SELECT id, status, lease_owner FROM message WHERE direction = 'inbound'")).first()


def _acks(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.text("SELECT count(*) FROM message WHERE idempotency_key LIKE 'ack:%'")).scalar())


def test_node_b_leaves_a_live_nodes_message_and_takes_it_once_node_a_is_killed(tmp_path, repo_root):
    home = make_home(tmp_path / "home")
    src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    inbox = home / "var" / "channels" / "harbor-3pl" / "inbound"
    with scratch_database("gw_nodes_in") as url:
        env = {**ENV, "GATEWAY_DATABASE_URL": url}
        key = create_key(home, name="support", role="viewer", env=env)
        engine = sa.create_engine(url)
        stuck = {"GATEWAY_NODE_ID": "gw-a", "GATEWAY_FAILPOINTS": "inbound.after_archive=hang"}
        a = ServeProcess(home, env={**env, **stuck})
        b = None
        try:
            a.wait_healthy(timeout=60)
            drop(src, inbox)
            row = wait_for(lambda: _row(engine), timeout=20)
            assert (row.status, row.lease_owner) == ("archived", "gw-a")  # A holds it, stuck in flight
            b = ServeProcess(home, env={**env, "GATEWAY_NODE_ID": "gw-b"})
            b.wait_healthy(timeout=60)
            details = httpx.get(f"{b.url}/api/health/details", headers={"X-API-Key": key}, timeout=5).json()
            assert details["node"] == "gw-b"
            assert sorted(n["node_id"] for n in details["nodes"]) == ["gw-a", "gw-b"]
            time.sleep(3 * 3)  # three leases' time: B's start-up recovery, recovery sweeps and polls all ran
            row = _row(engine)
            assert (row.status, row.lease_owner) == ("archived", "gw-a") and _acks(engine) == 0  # left to A
            # not committed: in the inbox, or in A's working folder of the shared inbox (A claimed it)
            assert src.name in {p.name for p in [*inbox.iterdir(), *inbox.glob(".claimed/*/*")]}

            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(timeout=10)
            done = wait_for(lambda: (r := _row(engine)) is not None and r.status == "acked" and r, timeout=30)
            assert done.lease_owner in ("gw-b", None)  # B took it (and lets go once mapped and released)
            wait_for(lambda: _row(engine).lease_owner is None, timeout=15)
            assert _acks(engine) == 1  # one 997
            wait_for(lambda: (inbox / "processed" / src.name).exists(), timeout=15)
            details = httpx.get(f"{b.url}/api/health/details", headers={"X-API-Key": key}, timeout=5).json()
            assert [n["node_id"] for n in details["nodes"]] == ["gw-b"]
            assert [(n["node_id"], n["state"]) for n in details["nodes_gone"]] == [("gw-a", "gone")]
            with engine.connect() as c:
                claimed_by = c.execute(sa.text(
                    "SELECT count(*) FROM event WHERE name = 'message.acked' AND message_id = :i"), {"i": row.id}
                ).scalar()
            assert claimed_by == 1
        finally:
            a.stop()
            if b is not None:
                b.stop()
            engine.dispose()
