"""A partner whose only channel is AS2, against a real ``gateway serve`` and the django-pyas2 peer: the peer sends
an 856 over AS2, the gateway acknowledges it and its 997 goes back over AS2 (sync MDN, or async MDN to our own
POST /as2) and ends ``delivered``; resend; a peer that is down (retrying, then dead); a negative MDN (failed with
the partner's reason); a retry after a partner-file change still judged by the options recorded at build time.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from tests.as2.django_peer import KEYPASS, PEER_HOME, DjangoPeer
from tests.as2.support import keypair
from tests.support.apikeys import create_key
from tests.support.gateway_home import REPO, make_home
from tests.support.serve import ServeProcess
from tests.support.sshd import free_port

pytestmark = pytest.mark.slow

SAMPLE = REPO / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"


@pytest.fixture(scope="module")
def peer():
    p = DjangoPeer(PEER_HOME)
    p.ensure()
    p.start()
    try:
        yield p
    finally:
        p.stop()


def gateway_home(
    tmp: Path, peer: DjangoPeer, *, url: str, port: int, partner: str = "harbor-3pl", keep_inbound: bool = False,
    **channel,
) -> Path:
    """The shipped example home; ``partner``'s only channel becomes AS2 to the peer (with ``keep_inbound``: its
    only outbound channel, its inbound folders kept); our AS2 identity is the peer's 'gateway' key pair
    (decrypted into a key file here)."""
    home = make_home(tmp)
    certs = home / "partners" / partner
    certs.mkdir(exist_ok=True)
    (certs / "peer.pem").write_bytes(peer.cert("peer.crt"))
    (certs / "other.pem").write_bytes(keypair("SOMEONE-ELSE").certificate)
    spec = yaml.safe_load((home / "partners" / f"{partner}.yaml").read_text())
    kept = [c for c in spec["channels"] if c.get("direction") == "inbound"] if keep_inbound else []
    spec["channels"] = [
        *kept,
        {
            "name": "as2",
            "type": "as2",
            "direction": "outbound" if keep_inbound else "both",
            "as2_id": "PEERSERVER",
            "url": url,
            "signing_certificates": f"{partner}/peer.pem",
            "encryption_certificate": f"{partner}/peer.pem",
            **channel,
        },
    ]
    spec["retry"] = {"attempts": 2, "backoff": "1s"}
    (home / "partners" / f"{partner}.yaml").write_text(yaml.safe_dump(spec))
    key = serialization.load_pem_private_key(peer.cert("gateway.key"), KEYPASS.encode())
    (home / "config" / "certs").mkdir()
    (home / "config" / "certs" / "gw.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (home / "config" / "certs" / "gw.pem").write_bytes(peer.cert("gateway.crt"))
    cfg = yaml.safe_load((home / "config" / "gateway.yaml").read_text())
    cfg["identity"].update(
        as2_id="GATEWAY",
        as2_mdn_url=f"http://127.0.0.1:{port}/as2",
        as2_message_id_domain="gateway.test.example",
        as2_email="as2@gateway.test.example",
        certificates=[
            {
                "name": "as2",
                "use": ["as2_signing", "as2_encryption"],
                "certificate": "config/certs/gw.pem",
                "private_key_file": "config/certs/gw.key",
            }
        ],
    )
    cfg["partners_reload_seconds"] = 1
    (home / "config" / "gateway.yaml").write_text(yaml.safe_dump(cfg))
    return home


def start(home: Path, port: int) -> ServeProcess:
    gw = ServeProcess(home, env={"GATEWAY_API_PORT": str(port)})
    gw.port, gw.url = port, f"http://127.0.0.1:{port}"
    gw.wait_healthy(timeout=30)
    return gw


def ack_row(home: Path, want=lambda row: True, timeout: float = 40.0) -> dict:
    """The 997 the gateway produced (outbound X12), once ``want`` holds for it."""
    deadline = time.monotonic() + timeout
    row: dict = {}
    while time.monotonic() < deadline:
        db = sqlite3.connect(home / "var" / "gateway.db")
        db.row_factory = sqlite3.Row
        try:
            got = db.execute(
                "SELECT * FROM message WHERE direction='outbound' AND document_format='x12' ORDER BY id"
            ).fetchall()
        finally:
            db.close()
        if got:
            row = dict(got[-1])
            if want(row):
                return row
        time.sleep(0.3)
    raise AssertionError(f"997 not as expected in time: {row}")


def peer_has(peer: DjangoPeer, message_id: str) -> dict | None:
    return next((m for m in peer.report() if m["message_id"] == message_id), None)


def test_as2_only_partner_receives_its_997_sync_mdn_delivered_then_resend(tmp_path, peer):
    port = free_port()
    home = gateway_home(tmp_path, peer, url=peer.url, port=port)
    gw = start(home, port)
    try:
        peer.configure(f"{gw.url}/as2", "SYNC")
        peer.send(SAMPLE)
        ack = ack_row(home, lambda r: r["status"] not in ("queued",))
        assert ack["status"] == "delivered" and ack["delivery_status"] == "delivered", (ack, gw.output())
        got = peer_has(peer, ack["transport_id"])
        assert got and got["direction"] == "IN" and got["status"] == "S", got
        assert got["payload"].startswith("ISA*") and "*997*" in got["payload"].replace("~", "*").replace("\n", "*")
        assert ack["transport_id"].endswith("@gateway.test.example")
        key = create_key(home, role="operator")
        r = httpx.post(
            f"{gw.url}/api/messages/{ack['id']}/resend", headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        assert r.status_code == 200, r.text
        assert r.json()["message"]["status"] == "delivered"
        again = ack_row(home, lambda row: row["transport_id"] != ack["transport_id"])
        assert again["delivery_status"] == "delivered"
        assert peer_has(peer, again["transport_id"])["status"] == "S"  # a new transmission the peer accepted
    finally:
        gw.stop()


def test_async_mdn_to_our_endpoint_delivers_the_997(tmp_path, peer):
    port = free_port()
    home = gateway_home(tmp_path, peer, url=peer.url, port=port, mdn="async")
    gw = start(home, port)
    try:
        peer.configure(f"{gw.url}/as2", "SYNC")
        peer.send(SAMPLE)
        ack = ack_row(home, lambda r: r["status"] != "queued")
        assert ack["status"] == "sent" and ack["delivery_status"] == "sent", (ack, gw.output())
        peer.manage("manageas2server", "--async-mdns")  # django-pyas2 sends pending async MDNs from this command
        done = ack_row(home, lambda r: r["status"] != "sent")
        assert done["status"] == "delivered" and done["delivery_status"] == "delivered", (done, gw.output())
    finally:
        gw.stop()


def test_peer_down_retrying_then_dead_with_the_last_error(tmp_path, peer):
    port = free_port()
    home = gateway_home(tmp_path, peer, url=f"http://127.0.0.1:{free_port()}/pyas2/as2receive", port=port)
    gw = start(home, port)
    try:
        peer.configure(f"{gw.url}/as2", "SYNC")
        peer.send(SAMPLE)
        first = ack_row(home, lambda r: r["status"] != "queued")
        assert first["status"] == "retrying" and first["delivery_status"] == "pending", first
        dead = ack_row(home, lambda r: r["status"] == "dead")
        assert dead["delivery_status"] == "dead"
        assert "gave up after 2 attempts" in dead["reason"] and "AS2 POST" in dead["reason"], dead["reason"]
    finally:
        gw.stop()


def test_negative_mdn_fails_the_997_with_the_partners_reason(tmp_path, peer):
    port = free_port()
    home = gateway_home(tmp_path, peer, url=peer.url, port=port, encrypt=False)  # the peer requires encryption
    gw = start(home, port)
    try:
        peer.configure(f"{gw.url}/as2", "SYNC")
        peer.send(SAMPLE)
        ack = ack_row(home, lambda r: r["status"] != "queued")
        assert ack["status"] == "failed" and ack["delivery_status"] == "failed", (ack, gw.output())
        assert "insufficient-message-security" in ack["reason"], ack["reason"]
    finally:
        gw.stop()


def test_retry_after_a_partner_file_change_is_judged_by_the_recorded_options(tmp_path, peer):
    port, later = free_port(), free_port()
    home = gateway_home(
        tmp_path, peer, url=f"http://127.0.0.1:{later}/pyas2/as2receive", port=port, mdn_timeout="5s"
    )
    harbor_file = home / "partners" / "harbor-3pl.yaml"
    harbor = yaml.safe_load(harbor_file.read_text())
    harbor["retry"] = {"attempts": 10, "backoff": "2s", "multiplier": 1.0}
    harbor_file.write_text(yaml.safe_dump(harbor))
    gw = start(home, port)
    second = DjangoPeer(peer.base)  # the same peer, brought up later on the partner's URL
    try:
        peer.configure(f"{gw.url}/as2", "SYNC")
        peer.send(SAMPLE)
        first = ack_row(home, lambda r: r["status"] == "retrying")
        db = sqlite3.connect(home / "var" / "gateway.db")
        try:
            [(built_id,)] = db.execute(
                "SELECT as2_message_id FROM as2_transmission WHERE message_id=?", (first["id"],)
            ).fetchall()
        finally:
            db.close()
        # the partner file changes: another signature algorithm, another MDN mode, and a certificate that does not
        # verify the peer's MDNs. Scheduled retries still send what was built and expect what it asked for.
        ch = harbor["channels"][0]
        ch.update(signature_algorithm="sha1", mdn="none", signing_certificates="harbor-3pl/other.pem")
        harbor_file.write_text(yaml.safe_dump(harbor))
        time.sleep(3)  # the hot reload (1 s) picks it up
        second.start(port=later)
        done = ack_row(home, lambda r: r["status"] not in ("retrying", "queued", "sending"), timeout=60)
        assert done["status"] == "delivered" and done["delivery_status"] == "delivered", (done, gw.output())
        assert done["transport_id"] == built_id  # the Message-ID of the first build
        assert peer_has(peer, built_id)["status"] == "S"
    finally:
        second.stop()
        gw.stop()


def test_killed_after_the_post_the_restart_resends_the_same_message_id(tmp_path, peer):
    """Fail point ``as2.after_post``: the process dies once the peer has the 997 but before its MDN is recorded.
    After a restart the recovery delivers it again with the same bytes and Message-ID; the peer answers the
    duplicate (RFC 4130 sec. 5.5) and the 997 ends delivered, one message at the peer."""
    port = free_port()
    home = gateway_home(tmp_path, peer, url=peer.url, port=port)
    gw = ServeProcess(home, env={"GATEWAY_API_PORT": str(port), "GATEWAY_FAILPOINTS": "as2.after_post=exit"})
    gw.port, gw.url = port, f"http://127.0.0.1:{port}"
    gw.wait_healthy(timeout=30)
    try:
        peer.configure(f"{gw.url}/as2", "SYNC")
        try:
            peer.send(SAMPLE)
        except AssertionError:
            pass  # the gateway died while answering the peer's own message
        assert gw.wait_exit(30) == 77, gw.output()
    finally:
        gw.stop()
    db = sqlite3.connect(home / "var" / "gateway.db")
    try:
        [(built_id, attempts)] = db.execute("SELECT as2_message_id, attempts FROM as2_transmission").fetchall()
    finally:
        db.close()
    assert attempts == 1 and peer_has(peer, built_id)["status"] == "S"  # the peer got it before the crash
    again = start(home, port)
    try:
        done = ack_row(home, lambda r: r["status"] not in ("queued", "retrying", "sending"))  # sending: swept
        assert done["status"] == "delivered" and done["delivery_status"] == "delivered", (done, again.output())
        assert done["transport_id"] == built_id
        assert [m["message_id"] for m in peer.report()].count(built_id) == 1
    finally:
        again.stop()


def test_the_3pl_loop_945_to_the_peer_over_as2_with_a_signed_mdn(tmp_path, peer, repo_root):
    """Issue 11's acceptance, AS2 leg: a 940 from acme-retail arrives (folder) and is acked; the shipment for that
    order, POSTed to /api/documents, becomes a valid 945 that the django-pyas2 peer receives over AS2, answered
    with a signed MDN: ``delivered``."""
    from tests.outbound.conftest import shipment  # the canonical shipment the outbound tests submit
    from tests.support.gateway_home import drop

    port = free_port()
    home = gateway_home(tmp_path, peer, url=peer.url, port=port, partner="acme-retail", keep_inbound=True)
    gw = start(home, port)
    key = create_key(home, role="operator")
    auth = {"Authorization": f"Bearer {key}"}
    try:
        peer.configure(f"{gw.url}/as2", "SYNC")
        drop(repo_root / "samples" / "x12" / "940" / "acme-retail-new-order.edi",
             home / "var" / "channels" / "acme-retail" / "inbound")
        ack = ack_row(home, lambda r: r["status"] not in ("queued", "sending"), timeout=60)
        assert (ack["status"], ack["delivery_status"]) == ("delivered", "delivered"), (ack, gw.output())
        order = json.loads((repo_root / "samples/x12/940/acme-retail-new-order.canonical.json").read_text())
        order = order.get("documents", [order])[0]
        record = shipment(order_number=order["order_number"], purchase_order=order["purchase_order"])
        r = httpx.post(f"{gw.url}/api/documents?partner=acme-retail&set_id=945", content=json.dumps(record),
                       headers={**auth, "Content-Type": "application/json", "Idempotency-Key": "as2-945"}, timeout=60)
        assert r.status_code == 201, r.text
        sent = r.json()["messages"][0]
        doc = ack_row(home, lambda row: row["id"] == sent["id"] and row["delivery_status"] != "pending", timeout=60)
        assert (doc["validation_status"], doc["status"], doc["delivery_status"], doc["ack_status"]) == (
            "valid", "delivered", "delivered", "waiting"), (doc, gw.output())
        got = peer_has(peer, doc["transport_id"])
        assert got and got["direction"] == "IN" and got["status"] == "S", got
        assert "*945*" in got["payload"].replace("~", "*").replace("\n", "*")
        found = httpx.get(f"{gw.url}/api/messages?direction=outbound&set_id=945&delivery_status=delivered",
                          headers=auth, timeout=10).json()
        assert [i["id"] for i in found["items"]] == [sent["id"]]
        detail = httpx.get(f"{gw.url}/api/messages/{sent['id']}", headers=auth, timeout=10).json()
        assert detail["interchanges"][0]["control_number"].isdigit()
        mdn = [e for e in detail["timeline"] if e["name"] == "mdn.received"]
        assert mdn and mdn[0]["detail"]["mdn_signed"] is True, detail["timeline"]  # a signed MDN, verified
    finally:
        gw.stop()
