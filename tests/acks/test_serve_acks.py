"""Acknowledgements close the loop, tried as a new user would: a real ``gateway serve``, a real folder inbox, the
real HTTP API and CLI. Outbound documents come from tests/support/outbound_docs.py (the outbound flow's stand-in);
the partner's 997/999 is what the partner's translator returns for our bytes (built from its side), or a reply
written the way partners write them (a TA1, a 997 for control numbers we never used)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.edi.x12.writer import Envelope, write_interchange
from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.support.apikeys import create_key
from tests.support.gateway_home import make_home, wait_for
from tests.support.outbound_docs import Sent, partner_acknowledgement, send_document
from tests.support.serve import GATEWAY, ServeProcess

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "x12"
PARTNER_005010 = """  - set_id: "945"
    direction: outbound
    version: "005010"
    ack: {expect_ack_within: 4h}
"""


def complete_ship_from(records: list[dict]) -> None:
    """The 945 sample's ship-from party has an id without its qualifier (N1*SF***CHI): a partner's validator
    rejects that (N102/N103 conditional), so the accepted case names the party and qualifies its id."""
    for party in records[0]["parties"]:
        if party["role"] == "ship_from":
            party.update(name="CHICAGO DC", id_qualifier="92")


@pytest.fixture
def home(tmp_path):
    home = make_home(tmp_path)
    acme = home / "partners" / "acme-retail.yaml"
    text = acme.read_text()
    marker = '  - {set_id: "856", direction: outbound, version: 004010VICS}\n'
    assert marker in text
    acme.write_text(text.replace(marker, marker + PARTNER_005010))
    return home


@pytest.fixture
def gw(home):
    gateway = Gateway(load_settings(home / "config" / "gateway.yaml"))  # store, archive, registry: not started
    yield gateway
    gateway.engine.dispose()


@pytest.fixture
def serve(home, gw):
    proc = ServeProcess(home, env={"GATEWAY_ACK_OVERDUE_CHECK_SECONDS": "1"})
    proc.wait_healthy(timeout=20)
    yield proc
    proc.stop()


@pytest.fixture
def key(home):
    return create_key(home, name="support-desk", role="operator")


def inbox(home: Path, partner: str) -> Path:
    return home / "var" / "channels" / partner / "inbound"


def drop_bytes(data: bytes, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.part"
    tmp.write_bytes(data)
    tmp.rename(folder / name)


def api(serve: ServeProcess, key: str, path: str) -> dict:
    r = httpx.get(f"{serve.url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def final_inbound(serve: ServeProcess, key: str, name: str) -> dict:
    def check():
        items = api(serve, key, f"/api/messages?direction=inbound&limit=100&q={name}")["items"]
        done = [m for m in items if m["file_name"] == name and m["status"] not in ("received", "archived",
                                                                                    "processing")]
        return done[0] if done else None

    summary = wait_for(check, timeout=20)
    return api(serve, key, f"/api/messages/{summary['id']}")


def last_ack(doc: dict) -> dict:
    """The last acknowledgement event on a document's timeline (the hand-off of the verdict may follow it)."""
    return [e for e in doc["timeline"] if e["name"].startswith("ack.")][-1]


def document(serve: ServeProcess, key: str, message_id: int) -> dict:
    return api(serve, key, f"/api/messages/{message_id}")


def send_945_through_the_api(serve: ServeProcess, key: str, *, control: int) -> tuple[dict, bytes]:
    """One 945 posted to ``POST /api/documents`` (the real outbound flow) and delivered, and the partner's 997
    for the bytes we delivered (interchange control number ``control``)."""
    records = json.loads((SAMPLES / "945" / "x12types-945-waqe.canonical.json").read_text())["documents"][:1]
    complete_ship_from(records)
    auth = {"Authorization": f"Bearer {key}"}
    r = httpx.post(f"{serve.url}/api/documents", content=json.dumps(records), timeout=30,
                   params={"partner": "acme-retail", "set_id": "945", "version": "004010UCS"},  # two 945s declared
                   headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    [sent] = r.json()["messages"]
    assert (sent["validation_status"], sent["acknowledgement_status"]) == ("valid", "waiting")
    wait_for(lambda: document(serve, key, sent["id"])["delivery_status"] == "delivered" or None, timeout=20)
    payload = httpx.get(f"{serve.url}/api/messages/{sent['id']}/payload", headers=auth, timeout=10).content
    return sent, partner_acknowledgement(Sent(None, payload, "", "", []), control=control)  # type: ignore[arg-type]


def test_partner_997_999_ta1_reconcile_with_what_we_sent(home, gw, serve, key):
    acme = inbox(home, "acme-retail")
    # -- a 945 the partner accepts (AK5*A) ---------------------------------------------------------------------
    good = send_document(gw, "acme-retail", SAMPLES / "945" / "x12types-945-waqe.canonical.json", set_id="945",
                         edit=complete_ship_from)
    assert good.message.status == "sent"
    ack = partner_acknowledgement(good, control=905)
    assert b"AK5*A" in ack
    drop_bytes(ack, acme, "acme-997-accept.x12")
    ack_msg = final_inbound(serve, key, "acme-997-accept.x12")
    assert ack_msg["status"] == "processed", ack_msg["reason"]
    names = [e["name"] for e in ack_msg["timeline"]]
    assert "ack.reconciled" in names and not any(n.startswith("mapping.") for n in names)
    assert ack_msg["acknowledges"] == [
        {**ack_msg["acknowledges"][0], "message_id": good.message.id, "kind": "997", "result": "A"}
    ]
    doc = document(serve, key, good.message.id)
    assert doc["document_status"]["acknowledgement"] == "accepted"
    assert doc["document_status"]["functional_ack"] == "A"
    assert [a["ack_message_id"] for a in doc["acknowledgements"]] == [ack_msg["id"]]
    assert last_ack(doc)["name"] == "ack.accepted"
    assert doc["timeline"][-1]["name"] == "handoff.released"  # the verdict is told to internal systems

    # -- a 945 the partner rejects (AK3/AK4, AK5*R): the reason is readable on the 945's timeline -----------------
    bad = send_document(gw, "acme-retail", SAMPLES / "945" / "x12types-945-waqe.canonical.json", set_id="945")
    rejection = partner_acknowledgement(bad, control=906)
    assert b"AK3*N1*6*N1*8" in rejection and b"AK5*R" in rejection
    drop_bytes(rejection, acme, "acme-997-reject.x12")
    assert final_inbound(serve, key, "acme-997-reject.x12")["status"] == "processed"
    doc = document(serve, key, bad.message.id)
    assert doc["document_status"]["acknowledgement"] == "rejected"
    event = last_ack(doc)
    assert event["name"] == "ack.rejected"
    lines = event["detail"]["lines"]
    assert any("segment N1 at position 6 (loop N1), element N102 (ref 93): conditional required data element "
               "missing (code 2); canonical field parties.name" in line for line in lines), lines
    assert any("one or more segments in error (code 5)" in line for line in lines), lines

    # -- a 999 answering a 005010 document ----------------------------------------------------------------------
    v5 = send_document(gw, "acme-retail", SAMPLES / "945" / "x12types-945-5010-envelope.canonical.json",
                       set_id="945", version="005010", edit=complete_ship_from)
    ack999 = partner_acknowledgement(v5, control=907)
    assert b"ST*999*" in ack999 and b"IK5*A" in ack999
    drop_bytes(ack999, acme, "acme-999.x12")
    assert final_inbound(serve, key, "acme-999.x12")["status"] == "processed"
    doc = document(serve, key, v5.message.id)
    assert doc["document_status"]["acknowledgement"] == "accepted"
    assert doc["acknowledgements"][0]["kind"] == "999"
    v5_bad = send_document(gw, "acme-retail", SAMPLES / "945" / "x12types-945-5010-envelope.canonical.json",
                           set_id="945", version="005010")
    drop_bytes(partner_acknowledgement(v5_bad, control=908), acme, "acme-999-reject.x12")
    assert final_inbound(serve, key, "acme-999-reject.x12")["status"] == "processed"
    doc = document(serve, key, v5_bad.message.id)
    assert doc["document_status"]["acknowledgement"] == "rejected"
    assert any("IK" not in line and "element N102" in line for line in last_ack(doc)["detail"]["lines"])

    # -- a TA1 refusing an interchange, matched by ISA13 (padding ignored) -----------------------------------
    refused = send_document(gw, "acme-retail", SAMPLES / "856" / "harbor-3pl-crossdock.canonical.json",
                            set_id="856")
    env = Envelope("08", "925119TEST", "ZZ", "TESTTPLEDI", "20261206", "1200", 909)
    ta1 = write_interchange(env, [], interchange_acks=[["TA1", str(int(refused.interchange)), "261206", "1200",
                                                        "R", "006"]])
    drop_bytes(ta1, acme, "acme-ta1.x12")
    ta1_msg = final_inbound(serve, key, "acme-ta1.x12")
    assert ta1_msg["status"] == "processed", ta1_msg["reason"]
    doc = document(serve, key, refused.message.id)
    assert doc["document_status"]["acknowledgement"] == "rejected"
    assert doc["acknowledgements"][0]["kind"] == "TA1"
    assert "invalid interchange sender id (note 006)" in last_ack(doc)["detail"]["lines"][0]

    # -- a 997 for control numbers we never sent: unmatched, on the worklist ------------------------------------
    stray = partner_acknowledgement(good, control=910).replace(
        f"AK1*SW*{good.group}~".encode(), b"AK1*SW*424242~"
    )
    drop_bytes(stray, acme, "acme-997-stray.x12")
    stray_msg = final_inbound(serve, key, "acme-997-stray.x12")
    assert stray_msg["status"] == "unmatched"
    assert "we sent no such group" in stray_msg["reason"] and "424242" in stray_msg["reason"]

    work = api(serve, key, "/api/attention")
    kinds = {(i["kind"], i["message_id"]) for i in work["items"]}
    assert ("unmatched", stray_msg["id"]) in kinds
    assert ("rejected", bad.message.id) in kinds and ("rejected", refused.message.id) in kinds
    rejected_item = next(i for i in work["items"] if i["message_id"] == bad.message.id and i["kind"] == "rejected")
    assert "element N102" in rejected_item["reason"]
    assert work["counts"]["by_partner_kind"]["acme-retail"]["unmatched"] == 1
    created = [i["created_at"] for i in work["items"]]
    assert created == sorted(created)  # oldest first

    # resolve with a note: recorded on the timeline with the actor; the item leaves the worklist
    url = f"{serve.url}/api/attention/{stray_msg['id']}/resolve"
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.post(url, json={"note": ""}, headers=auth, timeout=10).status_code == 422
    r = httpx.post(url, json={"note": "partner confirmed a test file"}, headers=auth, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["resolved"] == ["unmatched"]
    event = document(serve, key, stray_msg["id"])["timeline"][-1]
    assert (event["name"], event["actor"], event["detail"]["note"]) == (
        "attention.resolved", "api-key:support-desk", "partner confirmed a test file")
    assert ("unmatched", stray_msg["id"]) not in {(i["kind"], i["message_id"])
                                                  for i in api(serve, key, "/api/attention")["items"]}
    assert httpx.post(url, json={"note": "again"}, headers=auth, timeout=10).status_code == 409


def test_overdue_within_one_job_period_then_a_late_997_still_reconciles(home, gw, serve, key):
    sent_at = datetime.now(UTC) - timedelta(hours=3)  # harbor-3pl expects the 997 for a 940 within 2h
    order = send_document(gw, "harbor-3pl", SAMPLES / "940" / "acme-retail-new-order.canonical.json",
                          set_id="940", now=sent_at)
    assert gw.store.get(order.message.id).ack_status == "waiting"

    def overdue():
        d = document(serve, key, order.message.id)
        return d if d["document_status"]["acknowledgement"] == "overdue" else None

    doc = wait_for(overdue, timeout=10)
    event = next(e for e in doc["timeline"] if e["name"] == "ack.overdue")
    assert "no acknowledgement from harbor-3pl" in event["detail"]["reason"]
    work = api(serve, key, "/api/attention?kind=overdue")
    assert [(i["kind"], i["message_id"]) for i in work["items"]] == [("overdue", order.message.id)]
    assert '"ack.overdue"' in serve.log.read_text()  # the notification hook (a log event until the console lands)

    drop_bytes(partner_acknowledgement(order, control=77), inbox(home, "harbor-3pl"), "harbor-997-late.x12")
    assert final_inbound(serve, key, "harbor-997-late.x12")["status"] == "processed"
    assert document(serve, key, order.message.id)["document_status"]["acknowledgement"] == "accepted"
    assert api(serve, key, "/api/attention?kind=overdue")["items"] == []

    # the CLI shows the same worklist
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    out = subprocess.run([str(GATEWAY), "attention", "--json"], cwd=home, env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    assert json.loads(out.stdout)["counts"]["by_kind"].get("overdue") is None


def test_the_same_940_dropped_twice_is_a_duplicate(home, serve, key, repo_root):
    src = repo_root / "samples" / "x12" / "940" / "acme-retail-new-order.edi"
    acme = inbox(home, "acme-retail")
    drop_bytes(src.read_bytes(), acme, "order.edi")
    first = final_inbound(serve, key, "order.edi")
    assert first["status"] == "acked"
    wait_for(lambda: document(serve, key, first["id"])["outputs"], timeout=10)
    drop_bytes(src.read_bytes(), acme, "order-again.edi")
    second = final_inbound(serve, key, "order-again.edi")
    assert second["status"] == "duplicate"
    assert f"message {first['id']}" in second["reason"] and "ISA13" in second["reason"]
    assert second["acknowledgements"] == [] and second["outputs"] == []
    assert not any(e["name"].startswith("mapping.") for e in second["timeline"])
    outbox = home / "var" / "channels" / "acme-retail" / "outbound"
    assert len([p for p in outbox.iterdir() if p.is_file()]) == 1  # one 997
    assert (acme / "processed" / "order-again.edi").exists()  # handled: it left the inbox
    work = api(serve, key, "/api/attention?kind=duplicate")
    assert [i["message_id"] for i in work["items"]] == [second["id"]]

    # an operator forces a reprocess: recorded with the actor, then processed as a new interchange
    auth = {"Authorization": f"Bearer {key}"}
    r = httpx.post(f"{serve.url}/api/messages/{second['id']}/reprocess?force=true", headers=auth, timeout=30)
    assert r.status_code == 200, r.text
    detail = document(serve, key, second["id"])
    forced = [e for e in detail["timeline"] if e["name"] == "message.reprocess_forced"]
    assert forced and forced[0]["actor"] == "api-key:support-desk"
    assert detail["status"] == "acked"


def test_killed_after_reconciling_resumes_once_after_restart(home, gw, key):
    order = send_document(gw, "harbor-3pl", SAMPLES / "940" / "acme-retail-new-order.canonical.json", set_id="940")
    first = ServeProcess(home, env={"GATEWAY_FAILPOINTS": "inbound.after_reconcile=exit"})
    try:
        first.wait_healthy(timeout=20)
        drop_bytes(partner_acknowledgement(order, control=55), inbox(home, "harbor-3pl"), "harbor-997.x12")
        assert first.wait_exit(timeout=20) == 77, first.output()
    finally:
        first.stop()
    assert (inbox(home, "harbor-3pl") / "harbor-997.x12").exists()  # not committed: picked up again
    second = ServeProcess(home)
    try:
        second.wait_healthy(timeout=20)
        ack_msg = final_inbound(second, key, "harbor-997.x12")
        assert ack_msg["status"] == "processed"
        doc = document(second, key, order.message.id)
        assert doc["document_status"]["acknowledgement"] == "accepted"
        assert [a["ack_message_id"] for a in doc["acknowledgements"]] == [ack_msg["id"]]
        assert [e["name"] for e in doc["timeline"]].count("ack.accepted") == 1
        inbound = api(second, key, "/api/messages?direction=inbound")["items"]
        assert len(inbound) == 1
    finally:
        second.stop()


def test_killed_after_claiming_an_overdue_document_leaves_it_overdue_once(home, gw, key):
    order = send_document(gw, "harbor-3pl", SAMPLES / "940" / "acme-retail-new-order.canonical.json",
                          set_id="940", now=datetime.now(UTC) - timedelta(hours=3))
    env = {"GATEWAY_FAILPOINTS": "ack.overdue.after_claim=exit", "GATEWAY_ACK_OVERDUE_CHECK_SECONDS": "1"}
    first = ServeProcess(home, env=env)
    try:
        assert first.wait_exit(timeout=40) == 77, first.output()
    finally:
        first.stop()
    assert gw.store.get(order.message.id).ack_status == "overdue"  # the claim was committed before the crash
    second = ServeProcess(home, env={"GATEWAY_ACK_OVERDUE_CHECK_SECONDS": "1"})
    try:
        second.wait_healthy(timeout=20)
        time.sleep(2.5)  # two more job periods: nothing is claimed twice
        doc = document(second, key, order.message.id)
        assert [e["name"] for e in doc["timeline"]].count("ack.overdue") == 1
        assert [i["message_id"] for i in api(second, key, "/api/attention?kind=overdue")["items"]] == [
            order.message.id]
    finally:
        second.stop()


def test_a_945_sent_through_the_outbound_flow_is_accepted_by_the_partners_997(home, serve, key):
    """The same loop with the real outbound flow (POST /api/documents): the partner's 997 for the bytes we
    delivered marks our 945 ``accepted``, linked both ways."""
    sent, ack = send_945_through_the_api(serve, key, control=907)
    assert b"AK5*A" in ack
    drop_bytes(ack, inbox(home, "acme-retail"), "acme-997-for-the-api-945.x12")
    ack_msg = final_inbound(serve, key, "acme-997-for-the-api-945.x12")
    assert ack_msg["status"] == "processed", ack_msg["reason"]
    doc = document(serve, key, sent["id"])
    assert doc["document_status"]["acknowledgement"] == "accepted"
    assert [a["ack_message_id"] for a in doc["acknowledgements"]] == [ack_msg["id"]]


def test_the_partners_verdict_on_our_document_is_handed_off(home, serve, key):
    """Reconciliation tells internal systems (docs/handoff.md, acknowledgement outcomes): the 997 accepting our
    945 becomes one ``ack.accepted`` event on the hand-off destinations (here the example pull inbox)."""
    sent, ack = send_945_through_the_api(serve, key, control=908)
    drop_bytes(ack, inbox(home, "acme-retail"), "acme-997-handed-off.x12")
    assert final_inbound(serve, key, "acme-997-handed-off.x12")["status"] == "processed"

    def outcome():
        items = api(serve, key, "/api/inbox?after=0&limit=100")["items"]
        return [i for i in items if i["type"].startswith("ack.")] or None

    [event] = wait_for(outcome, timeout=20)
    assert event["type"] == "ack.accepted" and event["event_id"] == f"{sent['id']}-ack-accepted"
    assert event["partner"] == "acme-retail"
