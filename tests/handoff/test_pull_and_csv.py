"""Pull inbox and CSV/XML intake, in-process over a real HTTP server: a pull client reads, confirms and does not see
confirmed records again (a viewer key cannot confirm); a CSV order in a CSV partner's inbox is handed off as a
canonical order; a broken CSV fails visibly with its row and column; replay delivers again with the same ids."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.store.apikeys import ApiKeys
from gateway.store.models import Direction, MessageStatus
from tests.handoff.conftest import SAMPLE_CSV, numbered_940, start_gateway, write_handoff
from tests.support.api_server import ApiServer
from tests.support.gateway_home import drop, wait_for


@pytest.fixture
def api(home):
    write_handoff(home, {"destinations": [{"name": "erp", "type": "pull"}], "routes": [{"to": ["erp"]}]})
    gw = start_gateway(home)
    keys = ApiKeys(gw.engine)
    tokens = {role: keys.create(f"{role}-desk", role)[1] for role in ("viewer", "operator")}
    with ApiServer(gw) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield gw, client, tokens
    gw.stop()


def h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def inbox_of(gw, partner: str):
    return gw.settings.data_path / "channels" / partner / "inbound"


def test_pull_client_reads_confirms_and_does_not_see_confirmed_again(api):
    gw, client, tokens = api
    box = inbox_of(gw, "acme-retail")
    box.mkdir(parents=True, exist_ok=True)
    for n in (1, 2, 3):
        (box / f"o{n}.edi").write_bytes(numbered_940(n))

    def page():
        r = client.get("/api/inbox", params={"after": 0, "limit": 10}, headers=h(tokens["viewer"]))
        assert r.status_code == 200, r.text
        return r.json() if len(r.json()["items"]) == 3 else None

    first = wait_for(page, timeout=20)
    items = first["items"]
    assert {i["type"] for i in items} == {"order.received"}
    assert [i["record"]["order_number"] for i in items] == ["ORD000001", "ORD000002", "ORD000003"]
    assert all(i["event_id"] == f"{i['message_id']}-1" and i["partner"] == "acme-retail" for i in items)
    assert all(i["set"] == "940" and {"kind": "order", "value": i["record"]["order_number"]} in i["business_keys"]
               for i in items)
    # paging by cursor
    r = client.get("/api/inbox", params={"after": 0, "limit": 2}, headers=h(tokens["viewer"])).json()
    assert len(r["items"]) == 2
    rest = client.get("/api/inbox", params={"after": r["cursor"], "limit": 2}, headers=h(tokens["viewer"])).json()
    assert [i["event_id"] for i in rest["items"]] == [items[2]["event_id"]]
    # a viewer cannot confirm; an operator can
    ids = [items[0]["event_id"], items[1]["event_id"]]
    denied = client.post("/api/inbox/confirm", json={"ids": ids}, headers=h(tokens["viewer"]))
    assert denied.status_code == 403
    ok = client.post("/api/inbox/confirm", json={"ids": [*ids, "999-9"]}, headers=h(tokens["operator"]))
    assert ok.status_code == 200, ok.text
    assert ok.json()["confirmed"] == ids and ok.json()["unknown"] == ["999-9"]
    after = client.get("/api/inbox", params={"after": 0}, headers=h(tokens["viewer"])).json()
    assert [i["event_id"] for i in after["items"]] == [items[2]["event_id"]]
    again = client.post("/api/inbox/confirm", json={"ids": ids}, headers=h(tokens["operator"])).json()
    assert again["confirmed"] == [] and again["unknown"] == ids
    # statuses and timeline
    mid = items[0]["message_id"]
    detail = client.get(f"/api/messages/{mid}", headers=h(tokens["viewer"])).json()
    assert detail["handoff_status"] == "delivered"
    names = [e["name"] for e in detail["timeline"]]
    assert names.index("message.acked") < names.index("mapping.done") < names.index("handoff.released")
    assert names[-1] == "handoff.confirmed"
    delivered = client.get("/api/messages", params={"handoff": "delivered"}, headers=h(tokens["viewer"])).json()
    assert {m["id"] for m in delivered["items"]} == {items[0]["message_id"], items[1]["message_id"]}
    waiting = client.get(f"/api/messages/{items[2]['message_id']}/handoff", headers=h(tokens["viewer"])).json()
    assert waiting["status"] == "pending" and waiting["deliveries"][0]["status"] == "available"
    # replay (operator): the confirmed record is back in the inbox with the same event id
    assert client.post(f"/api/messages/{mid}/handoff", headers=h(tokens["viewer"])).status_code == 403
    rep = client.post(f"/api/messages/{mid}/handoff", headers=h(tokens["operator"]))
    assert rep.status_code == 200, rep.text
    back = client.get("/api/inbox", params={"after": 0}, headers=h(tokens["viewer"])).json()
    assert items[0]["event_id"] in [i["event_id"] for i in back["items"]]
    assert "handoff.replayed" in [e.name for e in gw.store.events(mid)]


def test_csv_order_from_a_csv_partner_is_handed_off_as_canonical_orders(api):
    gw, client, tokens = api
    drop(SAMPLE_CSV, inbox_of(gw, "coastal-grocers"))

    def page():
        items = client.get("/api/inbox", headers=h(tokens["viewer"])).json()["items"]
        return items if len(items) == 2 else None

    items = wait_for(page, timeout=20)
    assert [i["record"]["order_number"] for i in items] == ["18061923", "538686"]
    assert [len(i["record"]["lines"]) for i in items] == [2, 3]
    assert {i["partner"] for i in items} == {"coastal-grocers"} and {i["set"] for i in items} == {"csv"}
    assert items[0]["record"]["lines"][0]["product"]["case_upc"] == "072534238746"  # leading zero kept
    msg = gw.store.get(items[0]["message_id"])
    assert msg.status == MessageStatus.processed and msg.document_format == "csv"
    assert gw.archive.read_bytes(msg.archive_key) == SAMPLE_CSV.read_bytes()  # archived first, byte-exact
    assert (inbox_of(gw, "coastal-grocers") / "processed" / SAMPLE_CSV.name).exists()


def test_broken_csv_fails_with_row_and_column_and_nothing_is_handed_off(api, tmp_path):
    gw, client, tokens = api
    lines = SAMPLE_CSV.read_text().splitlines()
    header = lines[0].split(",")
    q = header.index("quantity")
    row4 = lines[3].split(",")
    row4[q] = "lots"
    bad = tmp_path / "bad-orders.csv"
    bad.write_text("\n".join([lines[0], lines[1], lines[2], ",".join(row4), *lines[4:]]) + "\n")
    drop(bad, inbox_of(gw, "coastal-grocers"))
    unknown = tmp_path / "unknown-column.csv"
    unknown.write_text(lines[0] + ",colour\n" + lines[1] + ",red\n")
    drop(unknown, inbox_of(gw, "coastal-grocers"))

    def failed(name):
        def check():
            ms = [m for m in gw.store.list_messages(direction=Direction.inbound).items if m.file_name == name]
            return ms[0] if ms and ms[0].status == MessageStatus.failed else None
        return check

    m = wait_for(failed("bad-orders.csv"), timeout=20)
    assert "row 4, column 'quantity'" in m.reason, m.reason
    m2 = wait_for(failed("unknown-column.csv"), timeout=20)
    assert "row 1, column 'colour'" in m2.reason, m2.reason
    assert client.get("/api/inbox", headers=h(tokens["viewer"])).json()["items"] == []
    assert (inbox_of(gw, "coastal-grocers") / "failed" / "bad-orders.csv").exists()
    assert gw.store.get(m.id).handoff_status is None


def test_xml_order_is_accepted_like_csv(api, tmp_path):
    from gateway.canonical import parse_record
    from gateway.mapping.xmlio import write_xml

    gw, client, tokens = api
    doc = json.loads((SAMPLE_CSV.parent.parent / "x12" / "940" / "acme-retail-new-order.canonical.json").read_text())
    xml = tmp_path / "orders.xml"
    xml.write_bytes(write_xml([parse_record(doc["documents"][0])], "order"))
    drop(xml, inbox_of(gw, "coastal-grocers"))
    items = wait_for(lambda: client.get("/api/inbox", headers=h(tokens["viewer"])).json()["items"], timeout=20)
    assert items[0]["record"]["order_number"] == "18061923" and items[0]["set"] == "xml"


def test_inbound_214_statuses_and_ack_outcomes_go_out_on_the_same_destinations(api, repo_root):
    gw, client, tokens = api
    src = repo_root / "samples" / "x12" / "214" / "edinet-214-mgctlyst.edi"
    drop(src, inbox_of(gw, "scac-carrier"))
    items = wait_for(lambda: client.get("/api/inbox", headers=h(tokens["viewer"])).json()["items"], timeout=20)
    status = items[0]
    assert status["type"] == "status.received" and status["set"] == "214" and status["partner"] == "scac-carrier"
    assert status["record"]["type"] == "status"
    # the outcome of a document we sent (the 997 we produced stands in for an outbound document here)
    out = next(iter(gw.store.list_messages(direction=Direction.outbound).items))
    assert gw.handoff.announce_ack_outcome(out.id, "rejected", reasons=["AK3*W12*5: mandatory element missing"])
    assert not gw.handoff.announce_ack_outcome(out.id, "rejected", reasons=["again"])  # once per outcome
    assert gw.handoff.announce_ack_outcome(out.id, "overdue")

    def two_more():
        got = client.get("/api/inbox", params={"after": 0}, headers=h(tokens["viewer"])).json()["items"]
        return got if len(got) == 3 else None

    got = wait_for(two_more, timeout=10)
    rejected = next(i for i in got if i["type"] == "ack.rejected")
    assert rejected["event_id"] == f"{out.id}-ack-rejected" and rejected["outcome"] == "rejected"
    assert rejected["reasons"] == ["AK3*W12*5: mandatory element missing"] and rejected["partner"] == "scac-carrier"
    assert {i["type"] for i in got} == {"status.received", "ack.rejected", "ack.overdue"}


def test_a_duplicate_interchange_is_never_released_again(api, tmp_path):
    gw, client, tokens = api
    box = inbox_of(gw, "acme-retail")
    box.mkdir(parents=True, exist_ok=True)
    (box / "first.edi").write_bytes(numbered_940(7))
    wait_for(lambda: client.get("/api/inbox", headers=h(tokens["viewer"])).json()["items"], timeout=20)
    again = numbered_940(7).replace(b"\n", b"\r\n")  # other bytes, same interchange (ISA sender and ISA13)
    (box / "again.edi").write_bytes(again)

    def second():
        ms = [m for m in gw.store.list_messages(direction=Direction.inbound).items if m.file_name == "again.edi"]
        return ms[0] if ms and (ms[0].handoff_status or ms[0].status == "duplicate") else None

    dup = wait_for(second, timeout=20)
    # the inbound flow stops a duplicate interchange before mapping (issue 13) ...
    assert dup.status == "duplicate"
    assert not [e for e in gw.store.events(dup.id) if e.name == "handoff.released"]
    # ... and when an operator forces it through, it is mapped and acknowledged, but the hand-off still skips it
    forced = client.post(f"/api/messages/{dup.id}/reprocess", params={"force": "true"}, headers=h(tokens["operator"]))
    assert forced.status_code == 200, forced.text
    dup_id = dup.id
    dup = wait_for(lambda: m if (m := gw.store.get(dup_id)).handoff_status else None, timeout=20)
    assert dup.handoff_status == "skipped"
    ev = [e for e in gw.store.events(dup.id) if e.name == "handoff.duplicate"]
    assert ev and "handed off already" in ev[0].detail["reason"]
    items = client.get("/api/inbox", headers=h(tokens["viewer"])).json()["items"]
    assert len(items) == 1 and items[0]["message_id"] != dup.id
