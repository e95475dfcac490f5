"""Outbound documents submitted to three ``gateway serve`` nodes on one PostgreSQL store, nodes killed with SIGKILL
at random moments and restarted: every document is built once, sent once (one file in the partner's outbound
folder) with a control number no other document has.

The nodes share one gateway home (partner files, the archive, the outbound folder), as nodes behind a load balancer
share a network file system. Leases are short (3 s) and the heartbeat quick (0.5 s), so a killed node's work is
resumed within seconds. A client submits each document with an Idempotency-Key to a random live node and, when the
node dies under the request, submits it again to another: the key answers with the same document.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.outbound.conftest import shipment
from tests.support.apikeys import create_key
from tests.support.gateway_home import make_home, wait_for
from tests.support.postgres import scratch_database
from tests.support.serve import ServeProcess

pytestmark = pytest.mark.postgres
DOCUMENTS = 40
NODES = 3
ENV = {"GATEWAY_OUTBOUND_LEASE_SECONDS": "3", "GATEWAY_NODE_HEARTBEAT_SECONDS": "0.5",
       "GATEWAY_LEASE_SECONDS": "3", "GATEWAY_LOG_LEVEL": "WARNING"}


class Cluster:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.nodes = [self._start(i) for i in range(NODES)]
        self.lock = threading.Lock()
        self.kills = 0

    def _start(self, i: int) -> ServeProcess:
        return ServeProcess(self.home, env={**self.env, "GATEWAY_NODE_ID": f"gw-{i}"})

    def live(self) -> list[ServeProcess]:
        with self.lock:
            return [n for n in self.nodes if n.proc.poll() is None]

    def kill_and_restart(self, rng: random.Random) -> None:
        """SIGKILL one answering node (never the last one answering), then start it again."""
        answering = [i for i, n in enumerate(self.nodes) if _answers(n)]
        if len(answering) < 2:
            return
        with self.lock:
            i = rng.choice(answering)
            victim = self.nodes[i]
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait(timeout=10)
            victim.stop()
            self.kills += 1
            self.nodes[i] = self._start(i)

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


def _answers(node: ServeProcess) -> bool:
    try:
        return node.proc.poll() is None and httpx.get(f"{node.url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _pause_for_kills(cluster: Cluster, done: int, total: int) -> None:
    """At a third and at two thirds of the documents, wait for the next kill: on a fast machine the client would
    otherwise be done before the random kills began, and the test would prove nothing."""
    for n, mark in enumerate((total // 3, 2 * total // 3), start=1):
        if done == mark:
            deadline = time.monotonic() + 60
            while cluster.kills < n and time.monotonic() < deadline:
                time.sleep(0.1)


def _submit_all(cluster: Cluster, key: str, keys: list[str], answers: dict[str, int], rng: random.Random,
                errors: list[str]) -> None:
    body = json.dumps(shipment()).encode()
    for k in keys:
        last = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            live = cluster.live()
            if not live:
                time.sleep(0.2)
                continue
            node = rng.choice(live)
            try:
                r = httpx.post(f"{node.url}/api/documents?partner=acme-retail&set_id=945", content=body,
                               headers={"X-API-Key": key, "Content-Type": "application/json", "Idempotency-Key": k},
                               timeout=20)
            except httpx.HTTPError as exc:
                last = f"{node.url}: {type(exc).__name__}"
                time.sleep(0.1)
                continue  # the node died under the request (or is still starting): submit again elsewhere
            if r.status_code in (200, 201):
                answers[k] = r.json()["messages"][0]["id"]
                _pause_for_kills(cluster, len(answers), len(keys))
                break
            last = f"{r.status_code} {r.text[:300]}"
            time.sleep(0.2)
        else:
            errors.append(f"document {k} was never accepted; last answer: {last}")
            return


def test_outbound_documents_on_three_nodes_killed_at_random_are_each_sent_once(tmp_path):
    rng = random.Random(18)
    home = make_home(tmp_path / "home")
    with scratch_database("gw_nodes_out") as url:
        env = {**ENV, "GATEWAY_DATABASE_URL": url}
        key = create_key(home, name="erp", role="operator", env=env)
        cluster = Cluster(home, env)
        try:
            for n in cluster.nodes:
                n.wait_healthy(timeout=60)
            keys = [f"doc-{i:03d}" for i in range(DOCUMENTS)]
            answers: dict[str, int] = {}
            errors: list[str] = []
            client = threading.Thread(target=_submit_all, args=(cluster, key, keys, answers, rng, errors))
            started = time.monotonic()
            client.start()
            while client.is_alive() and time.monotonic() - started < 90:
                time.sleep(rng.uniform(1.0, 3.0))
                if client.is_alive():
                    cluster.kill_and_restart(rng)
            client.join(timeout=120)
            print(f"submitted in {time.monotonic() - started:.1f}s with {cluster.kills} kills")
            assert not client.is_alive()
            assert not errors, (errors, [n.output() for n in cluster.nodes])
            assert cluster.kills >= 2
            assert set(answers) == set(keys)
            for n in cluster.nodes:
                n.wait_healthy(timeout=60)

            engine = sa.create_engine(url)
            ids = sorted(set(answers.values()))
            assert len(ids) == DOCUMENTS  # one message per idempotency key

            def all_sent() -> bool:
                with engine.connect() as c:
                    rows = c.execute(sa.text("SELECT status FROM message WHERE direction = 'outbound'")).all()
                return len(rows) == DOCUMENTS and all(r.status == "sent" for r in rows)

            wait_for(all_sent, timeout=45, interval=0.5)
            with engine.connect() as c:
                built = c.execute(sa.text(
                    "SELECT message_id, count(*) FROM event WHERE name = 'document.built' GROUP BY message_id"
                )).all()
                numbers = c.execute(sa.text(
                    "SELECT i.control_number, m.file_name FROM interchange i JOIN message m ON m.id = i.message_id "
                    "WHERE m.direction = 'outbound'"
                )).all()
            engine.dispose()
            assert sorted(m for m, _ in built) == ids and all(n == 1 for _, n in built)  # each built once
            assert len({n for n, _ in numbers}) == DOCUMENTS  # control numbers unique
            outbox = home / "var" / "channels" / "acme-retail" / "outbound"
            files = sorted(p.name for p in outbox.iterdir() if p.is_file() and not p.name.startswith("."))
            assert files == sorted(f for _, f in numbers)  # each document's file, once; nothing else
        finally:
            cluster.stop()
