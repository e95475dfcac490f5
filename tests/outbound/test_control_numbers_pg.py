"""Control numbers across two real ``gateway serve`` processes on one PostgreSQL, and across a restart."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from tests.outbound.conftest import shipment
from tests.support.apikeys import create_key
from tests.support.gateway_home import make_home
from tests.support.postgres import reset_schema
from tests.support.serve import ServeProcess

pytestmark = pytest.mark.postgres
EACH = 200


def _submit(gw: ServeProcess, key: str, count: int, out: list[dict], errors: list[str]) -> None:
    body = json.dumps(shipment()).encode()
    with httpx.Client(base_url=gw.url, headers={"X-API-Key": key, "Content-Type": "application/json"},
                      timeout=60) as client:
        for _ in range(count):
            r = client.post("/api/documents?partner=acme-retail&set_id=945", content=body)
            if r.status_code != 201:
                errors.append(r.text)
                continue
            out.append(r.json()["messages"][0])


def _numbers(gw: ServeProcess, key: str, ids: list[int]) -> list[tuple[int, int]]:
    out = []
    with httpx.Client(base_url=gw.url, headers={"X-API-Key": key}, timeout=30) as client:
        for i in ids:
            ic = client.get(f"/api/messages/{i}").json()["interchanges"][0]
            out.append((int(ic["control_number"]), int(ic["groups"][0]["control_number"])))
    return out


def test_two_gateways_on_one_postgresql_never_share_a_control_number(tmp_path, postgres_url):
    reset_schema(postgres_url)
    homes = [make_home(tmp_path / "a"), make_home(tmp_path / "b")]
    # several nodes share the archive as well as the database (the start check refuses a node without it)
    env = {"GATEWAY_DATABASE_URL": postgres_url, "GATEWAY_ARCHIVE_DIR": str(tmp_path / "shared-archive")}
    key = create_key(homes[0], name="sender", role="operator", env=env)
    nodes = [ServeProcess(h, env=env) for h in homes]
    try:
        for n in nodes:
            n.wait_healthy(timeout=60)
        results: list[list[dict]] = [[], []]
        errors: list[str] = []
        threads = [threading.Thread(target=_submit, args=(n, key, EACH, results[i], errors))
                   for i, n in enumerate(nodes)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert not errors, errors[:3]
        ids = [m["id"] for r in results for m in r]
        assert len(ids) == 2 * EACH and all(m["delivery_status"] == "delivered" for r in results for m in r)
        numbers = _numbers(nodes[0], key, ids)
        assert len({isa for isa, _ in numbers}) == 2 * EACH
        assert len({gs for _, gs in numbers}) == 2 * EACH
        highest = max(isa for isa, _ in numbers)
    finally:
        for n in nodes:
            n.stop()
    restarted = ServeProcess(homes[1], env=env)
    try:
        restarted.wait_healthy(timeout=60)
        later: list[dict] = []
        _submit(restarted, key, 3, later, errors)
        assert not errors
        after = [isa for isa, _ in _numbers(restarted, key, [m["id"] for m in later])]
        assert after == sorted(after) and after[0] > highest  # strictly increasing across the restart
    finally:
        restarted.stop()
