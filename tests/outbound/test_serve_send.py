"""Sending as a new user does it: a real ``gateway serve``, the real API, a real folder and the real sshd."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from tests.outbound.conftest import shipment
from tests.support.apikeys import create_key
from tests.support.gateway_home import drop, make_home, wait_for
from tests.support.serve import ServeProcess


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


@pytest.fixture
def key(home):
    return create_key(home, name="sender", role="operator")


def _northwind(home, server) -> dict[str, str]:
    """A second partner taking 856s (004010VICS) over SFTP on the real sshd; returns the env with its key."""
    sub = f"northwind-{os.getpid()}"
    (server.root / sub / "in").mkdir(parents=True)
    (home / "partners" / "northwind-dc.yaml").write_text(f"""
id: northwind-dc
name: Northwind Distribution
role: retailer
identity:
  interchange_ids: [{{qualifier: ZZ, id: NORTHWINDDC}}]
channels:
  - name: sftp
    type: sftp
    direction: outbound
    host: 127.0.0.1
    port: {server.port}
    username: {server.user}
    private_key: {{secret: NORTHWIND_SFTP_KEY}}
    host_key: {server.host_key_pub.read_text().strip()}
    outbound_dir: {sub}/in
    timeout_seconds: 10
documents:
  - {{set_id: "856", direction: outbound, version: 004010VICS}}
""")
    return {"GATEWAY_SECRET_NORTHWIND_SFTP_KEY": server.client_key.read_text(), "_dir": str(server.root / sub / "in")}


def test_the_3pl_loop_945_over_a_folder_and_856_over_sftp(home, key, repo_root, sshd_server):
    env = _northwind(home, sshd_server)
    remote = env.pop("_dir")
    gw = ServeProcess(home, env=env)
    auth = {"X-API-Key": key}
    try:
        gw.wait_healthy(timeout=60)
        # a 940 from acme-retail arrives and is acked
        drop(repo_root / "samples" / "x12" / "940" / "acme-retail-new-order.edi",
             home / "var" / "channels" / "acme-retail" / "inbound")

        def acked():
            items = httpx.get(f"{gw.url}/api/messages?direction=inbound&partner=acme-retail", headers=auth,
                              timeout=5).json()["items"]
            return [m for m in items if m["status"] == "acked"]

        wait_for(acked, timeout=15)
        # the warehouse shipped that order: the 945, twice with one Idempotency-Key
        order = json.loads((repo_root / "samples/x12/940/acme-retail-new-order.canonical.json").read_text())
        order = order.get("documents", [order])[0]
        record = shipment(order_number=order["order_number"], purchase_order=order["purchase_order"])
        headers = {**auth, "Idempotency-Key": "ship-18061923", "Content-Type": "application/json"}
        url = f"{gw.url}/api/documents?partner=acme-retail&set_id=945"
        first = httpx.post(url, content=json.dumps(record), headers=headers, timeout=30)
        assert first.status_code == 201, first.text
        again = httpx.post(url, content=json.dumps(record), headers=headers, timeout=30)
        assert again.status_code == 200 and not again.json()["created"]
        m = first.json()["messages"][0]
        assert again.json()["messages"][0]["id"] == m["id"]
        assert (m["validation_status"], m["delivery_status"], m["acknowledgement_status"]) == (
            "valid", "delivered", "waiting")
        other = httpx.post(url, content=json.dumps({**record, "shipment_id": "X"}), headers=headers, timeout=30)
        assert other.status_code == 409
        outbox = home / "var" / "channels" / "acme-retail" / "outbound"
        assert len([p for p in outbox.iterdir() if "-945-" in p.name]) == 1  # one message, one delivery
        found = httpx.get(f"{gw.url}/api/messages?direction=outbound&set_id=945", headers=auth, timeout=5).json()
        assert [i["id"] for i in found["items"]] == [m["id"]]
        detail = httpx.get(f"{gw.url}/api/messages/{m['id']}", headers=auth, timeout=5).json()
        ic = detail["interchanges"][0]
        assert ic["control_number"].isdigit() and ic["groups"][0]["transactions"][0]["set_id"] == "945"
        by_number = httpx.get(f"{gw.url}/api/messages?control_number={ic['control_number']}&direction=outbound"
                              "&delivery_status=delivered", headers=auth, timeout=5).json()
        assert m["id"] in [i["id"] for i in by_number["items"]]

        # the 856 for another partner, over SFTP
        ship = shipment(order_number=order["order_number"])  # read from a 945: written as a valid 856
        res = httpx.post(f"{gw.url}/api/documents?partner=northwind-dc", content=json.dumps(ship),
                         headers={**auth, "Content-Type": "application/json"}, timeout=30)
        assert res.status_code == 201, res.text
        asn = res.json()["messages"][0]
        assert asn["delivery_status"] == "delivered" and asn["file_name"] in os.listdir(remote)
        found = httpx.get(f"{gw.url}/api/messages?direction=outbound&set_id=856", headers=auth, timeout=5).json()
        assert [i["id"] for i in found["items"]] == [asn["id"]]
        detail = httpx.get(f"{gw.url}/api/messages/{asn['id']}", headers=auth, timeout=5).json()
        assert detail["interchanges"][0]["groups"][0]["version"] == "004010VICS"

        # bad input: an unknown partner, a record failing its schema, an invalid document
        assert httpx.post(f"{gw.url}/api/documents?partner=nobody", content=b"{}", headers=auth,
                          timeout=10).status_code == 404
        bad = httpx.post(url, content=json.dumps({**record, "ship_date": "June"}), headers=auth, timeout=10)
        assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "$.ship_date"
        viewer = create_key(home, name="viewer", role="viewer")
        assert httpx.post(url, content=json.dumps(record), headers={"X-API-Key": viewer},
                          timeout=10).status_code == 403
    finally:
        gw.stop()


@pytest.mark.parametrize("point", ["outbound.after_archive", "outbound.after_build", "outbound.after_send"])
def test_killed_at_each_step_the_document_is_sent_once_after_restart(home, key, point):
    first = ServeProcess(home, env={"GATEWAY_FAILPOINTS": f"{point}=exit"})
    auth = {"X-API-Key": key, "Idempotency-Key": "crash-1"}
    url = "/api/documents?partner=acme-retail&set_id=945"
    try:
        first.wait_healthy(timeout=60)
        with pytest.raises(httpx.HTTPError):  # the process dies inside the request
            httpx.post(first.url + url, content=json.dumps(shipment()), headers=auth, timeout=30)
        assert first.wait_exit(timeout=15) == 77, first.output()
    finally:
        first.stop()
    # a send interrupted after the bytes left is "sending": another node may still be at it, so it is resumed
    # once its lease ran out (3 s here; 120 s by default)
    second = ServeProcess(home, env={"GATEWAY_OUTBOUND_LEASE_SECONDS": "3"})
    try:
        second.wait_healthy(timeout=60)
        outbox = home / "var" / "channels" / "acme-retail" / "outbound"

        def sent():
            items = httpx.get(f"{second.url}/api/messages?direction=outbound&set_id=945", headers=auth,
                              timeout=5).json()["items"]
            return items if items and items[0]["delivery_status"] == "delivered" else None

        items = wait_for(sent, timeout=20)
        assert len(items) == 1
        again = httpx.post(second.url + url, content=json.dumps(shipment()), headers=auth, timeout=30)
        assert again.status_code == 200 and again.json()["messages"][0]["id"] == items[0]["id"]
        assert len([p for p in outbox.iterdir() if p.is_file()]) == 1
        detail = httpx.get(f"{second.url}/api/messages/{items[0]['id']}", headers=auth, timeout=5).json()
        assert sum(1 for e in detail["timeline"] if e["name"] == "document.built") == 1
    finally:
        second.stop()


def test_the_outbox_folder_and_gateway_send(home, key, tmp_path):
    import subprocess

    from tests.support.serve import GATEWAY

    gw = ServeProcess(home)
    auth = {"X-API-Key": key}
    try:
        gw.wait_healthy(timeout=60)
        box = home / "var" / "outbox" / "acme-retail"
        assert (box / "processed").is_dir() and (box / "failed").is_dir()  # created like the inboxes
        good, bad, unsure = tmp_path / "ship-1.945.json", tmp_path / "bad.json", tmp_path / "ship-2.json"
        good.write_text(json.dumps(shipment()))  # the set in its name: acme takes shipments as 945 or 856
        unsure.write_text(json.dumps(shipment()))
        bad.write_text('{"type": "shipment", "ship_date": "June"}')
        for f in (good, bad, unsure):
            drop(f, box)

        def settled():
            done = [(box / "processed" / good.name), (box / "failed" / bad.name), (box / "failed" / unsure.name)]
            return all(p.exists() for p in done) or None

        wait_for(settled, timeout=15)
        items = httpx.get(f"{gw.url}/api/messages?partner=acme-retail&validation_status=invalid", headers=auth,
                          timeout=5).json()["items"]
        reasons = " ".join(i["reason"] for i in items)
        assert "$.ship_date" in reasons and "say which" in reasons  # the schema error; the ambiguous set
        sent = httpx.get(f"{gw.url}/api/messages?direction=outbound&set_id=945&delivery_status=delivered",
                         headers=auth, timeout=5).json()["items"]
        assert [i["channel"] for i in sent] == ["acme-retail/outbox"]
    finally:
        gw.stop()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    ok = subprocess.run([str(GATEWAY), "send", str(good), "--partner", "acme-retail", "--set", "945", "--json"],
                        cwd=home, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert (result["validation_status"], result["delivery_status"]) == ("valid", "delivered")
    assert (home / "var" / "channels" / "acme-retail" / "outbound" / result["file_name"]).exists()
    refused = subprocess.run([str(GATEWAY), "send", str(bad), "--partner", "acme-retail", "--set", "945"],
                             cwd=home, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1 and "$.ship_date" in refused.stderr
    unknown = subprocess.run([str(GATEWAY), "send", str(good), "--partner", "nobody"],
                             cwd=home, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert unknown.returncode == 2 and "nobody" in unknown.stderr
