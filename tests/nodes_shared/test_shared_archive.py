"""The shared archive: a node whose archive lacks what the store knows refuses to start (exit code 15, one line),
and a message received by one node is resent and reprocessed through another (two real ``gateway serve``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from gateway.cli.failures import EXIT_ARCHIVE_MISSING
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.transports.channels import inbound_folders
from tests.nodes_shared.support import inbox, node_env, node_home, order_940, outbox, rows, shared_database
from tests.support.apikeys import create_key
from tests.support.gateway_home import make_home, wait_for
from tests.support.serve import GATEWAY, ServeProcess


def serve_once(home: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    full.update({"GATEWAY_API_PORT": "0", **(env or {})})
    return subprocess.run([str(GATEWAY), "serve"], cwd=home, env=full, capture_output=True, text=True, timeout=60,
                          check=False)


def test_a_node_whose_archive_lacks_the_stores_payloads_refuses_to_start(tmp_path):
    home = make_home(tmp_path)
    settings = load_settings(home / "config" / "gateway.yaml")
    gw = Gateway(settings)
    try:
        folder = inbound_folders(settings, gw.registry.get("acme-retail"))[0]  # type: ignore[arg-type]
        folder.ensure_folders()
        (folder.path / "order.x12").write_bytes(order_940(1))
        os.utime(folder.path / "order.x12", (time.time() - 60, time.time() - 60))
        msg = gw.inbound.receive(wait_for(lambda: folder.poll()[0], timeout=10)[0])
        assert msg is not None and gw.store.get(msg.id).status == "acked"  # type: ignore[arg-type]
    finally:
        gw.engine.dispose()
    archive = home / "var" / "archive"
    shutil.move(archive, home / "var" / "archive-elsewhere")  # not mounted / the wrong folder
    proc = serve_once(home)
    out = proc.stderr + proc.stdout
    assert proc.returncode == EXIT_ARCHIVE_MISSING, out
    lines = [line for line in out.splitlines() if line.strip() and not line.startswith("{")]
    assert len(lines) == 1 and "Traceback" not in out, out
    assert lines[0].startswith("error: the archive at ") and "lacks the payloads of 2 of the newest 2" in lines[0]
    assert "mount the shared archive" in lines[0], lines[0]
    # the check can be turned off; with the archive back, the node starts
    shutil.move(home / "var" / "archive-elsewhere", archive)
    node = ServeProcess(home)
    try:
        node.wait_healthy(timeout=60)
    finally:
        node.stop()


@pytest.mark.postgres
def test_resend_and_reprocess_through_node_b_of_a_message_received_by_node_a(tmp_path):
    shared = tmp_path / "shared"
    with shared_database() as url:
        env = node_env(url, shared)
        home_a, home_b = node_home(tmp_path / "a", shared), node_home(tmp_path / "b", shared)
        key = create_key(home_a, name="ops", role="operator", env=env)
        a = ServeProcess(home_a, env={**env, "GATEWAY_NODE_ID": "node-a"})
        try:
            a.wait_healthy(timeout=60)
            inbox(shared).mkdir(parents=True, exist_ok=True)
            tmp = inbox(shared) / ".order.x12.part"
            tmp.write_bytes(order_940(7))
            tmp.rename(inbox(shared) / "order.x12")
            wait_for(lambda: rows(url, "SELECT id FROM message WHERE direction='inbound' AND status='acked'"),
                     timeout=60)
        finally:
            a.stop()  # node A is gone: B works from the store and the shared archive alone
        (inbound_id,), = rows(url, "SELECT id FROM message WHERE direction='inbound'")
        (ack_id,), = rows(url, "SELECT id FROM message WHERE direction='outbound'")
        first = sorted(outbox(shared).glob("*.x12"))
        assert len(first) == 1
        first[0].unlink()  # the partner picked it up; they ask for it again
        b = ServeProcess(home_b, env={**env, "GATEWAY_NODE_ID": "node-b"})
        try:
            b.wait_healthy(timeout=60)
            auth = {"Authorization": f"Bearer {key}"}
            r = httpx.post(f"{b.url}/api/messages/{ack_id}/resend", headers=auth, timeout=30)
            assert r.status_code == 200, r.text
            assert r.json()["message"]["status"] in ("sent", "delivered"), r.text
            again = sorted(outbox(shared).glob("*.x12"))
            assert [p.name for p in again] == [first[0].name]  # delivered again, the same 997
            r = httpx.post(f"{b.url}/api/messages/{inbound_id}/reprocess", headers=auth, timeout=30)
            assert r.status_code == 200, r.text
            assert r.json()["message"]["status"] == "acked", r.text
            acks = rows(url, "SELECT ack_message_id FROM ack_link WHERE message_id=:m", m=inbound_id)
            assert [a[0] for a in acks] == [ack_id]  # reprocessing never makes a second 997
        finally:
            b.stop()
