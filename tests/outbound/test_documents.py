"""The document flow in process: records in, the partner's X12 out (archived, recorded, delivered)."""

from __future__ import annotations

import json

import pytest

from gateway.edi.x12 import analyze
from gateway.errors import NotFoundError
from gateway.flows.documents import IdempotencyConflict
from gateway.store.search import MessageQuery
from tests.outbound.conftest import shipment


def _body(*records: dict) -> bytes:
    return json.dumps(list(records) if len(records) > 1 else records[0]).encode()


def test_a_shipment_becomes_the_945_acme_declared_written_and_found(gateway, home):
    res = gateway.documents.submit(_body(shipment()), partner_id="acme-retail", set_id="945", actor="test")
    m = res.message
    assert res.valid and res.created and res.problems == []
    assert (m.status, m.validation_status, m.delivery_status, m.ack_status) == ("sent", "valid", "delivered", "waiting")
    from datetime import timedelta

    sent_at = next(e.at for e in gateway.store.events(m.id) if e.name == "message.sent")
    assert timedelta(hours=4) <= m.ack_due_at - sent_at + timedelta(seconds=1) < timedelta(hours=4, seconds=5)
    data = gateway.archive.read_bytes(m.archive_key)
    analysis = analyze(data)
    assert analysis.valid
    ic = analysis.interchanges[0]
    assert (ic.sender_qualifier, ic.sender_id, ic.receiver_id) == ("ZZ", "TESTTPLEDI", "925119TEST")
    assert ic.groups[0].version == "004010UCS" and ic.groups[0].functional_id == "SW"
    assert data.count(b"~\n") > 10  # envelope: terminator suffix LF
    outbox = home / "var" / "channels" / "acme-retail" / "outbound" / m.file_name
    assert outbox.read_bytes() == data
    found = gateway.store.search(MessageQuery(direction="outbound", set_id="945", control_number=ic.control_number))
    assert [x.id for x in found.items] == [m.id]
    lineage = gateway.store.lineage(m.id)
    assert [t.set_id for t in lineage.transactions] == ["945"] and lineage.groups[0].control_number == "1"
    assert ("po", "PO9865") in {(k.kind, k.value) for k in gateway.store.business_keys(m.id)}
    names = [e.name for e in gateway.store.events(m.id)]
    assert names[:2] == ["message.received", "message.archived"] and "document.built" in names
    assert names[-1] == "message.sent"
    assert [o.kind for o in gateway.store.outputs(m.id)] == ["canonical"]  # the submission, as received


def test_control_numbers_increase_per_partner_and_st02_counts_within_its_group(gateway):
    a = gateway.documents.submit(_body(shipment(), shipment(shipment_id="B2")), partner_id="acme-retail",
                                 set_id="945").message
    b = gateway.documents.submit(_body(shipment()), partner_id="acme-retail", set_id="945").message
    la, lb = gateway.store.lineage(a.id), gateway.store.lineage(b.id)
    assert int(lb.interchanges[0].control_number) == int(la.interchanges[0].control_number) + 1
    assert int(lb.groups[0].control_number) == int(la.groups[0].control_number) + 1
    assert [t.control_number for t in la.transactions] == ["0001", "0002"]


def test_invalid_output_is_recorded_invalid_naming_the_field_and_the_element(gateway, home):
    bad = shipment()
    bad["parties"][1] = {"role": "ship_from", "id": "CHI"}  # an id without its qualifier: N1*SF***CHI
    res = gateway.documents.submit(_body(bad), partner_id="acme-retail", set_id="945")
    m = res.message
    assert not res.valid and (m.status, m.validation_status) == ("failed", "invalid")
    assert any(p["x12"] == "N1-02" and "parties[1]" in p["path"] for p in res.problems), res.problems
    assert not list((home / "var" / "channels" / "acme-retail" / "outbound").glob("*.x12"))  # nothing sent
    invalid = next(e for e in gateway.store.events(m.id) if e.name == "document.invalid")
    assert invalid.detail["unused_control_numbers"]["interchange"]  # the gap is visible


def test_schema_errors_name_the_json_path(gateway):
    res = gateway.documents.submit(_body(shipment(), {"type": "shipment", "ship_date": "June"}),
                                   partner_id="acme-retail", set_id="945")
    assert not res.valid
    assert {p["path"] for p in res.problems} == {"$[1].ship_date"}


def test_an_undeclared_document_is_refused_naming_the_partner_file_key(gateway):
    res = gateway.documents.submit(_body({"type": "status", "shipment_id": "S1", "events": []}),
                                   partner_id="acme-retail")
    assert not res.valid
    assert "documents:" in res.problems[0]["message"] and "214" in res.problems[0]["message"]


def test_a_shipment_for_a_partner_taking_945_and_856_needs_the_set(gateway):
    res = gateway.documents.submit(_body(shipment()), partner_id="acme-retail")
    assert not res.valid and res.problems[0]["code"] == "ambiguous"


def test_unknown_partner(gateway):
    with pytest.raises(NotFoundError):
        gateway.documents.submit(_body(shipment()), partner_id="nobody")


def test_same_idempotency_key_same_message_other_body_conflict(gateway, home):
    first = gateway.documents.submit(_body(shipment()), partner_id="acme-retail", set_id="945", idempotency_key="k1")
    again = gateway.documents.submit(_body(shipment()), partner_id="acme-retail", set_id="945", idempotency_key="k1")
    assert again.message.id == first.message.id and not again.created
    assert len(gateway.store.delivery_attempts(first.message.id)) == 1
    assert len(list((home / "var" / "channels" / "acme-retail" / "outbound").glob("*.x12"))) == 1
    with pytest.raises(IdempotencyConflict):
        gateway.documents.submit(_body(shipment(shipment_id="OTHER")), partner_id="acme-retail", set_id="945",
                                 idempotency_key="k1")


def test_csv_submission(gateway, repo_root):
    from io import StringIO

    from gateway.canonical import parse_record
    from gateway.mapping.csvio import write_csv

    out = StringIO()
    write_csv([parse_record(shipment())], out, "shipment")
    res = gateway.documents.submit(out.getvalue().encode(), partner_id="acme-retail", set_id="945",
                                   content_type="text/csv")
    # the shipment CSV has no column for the carrier's transport mode, the line status nor the total quantity
    # (W27-01, W12-01, W03-01, mandatory in a 945): the record read from CSV is refused naming them, never sent
    assert res.message.document_format == "csv" and not res.valid
    assert {p["x12"] for p in res.problems} == {"W27-01", "W12-01", "W03-01"}
    assert res.problems[0]["path"] == "$[0].carrier.scac"


def test_a_crash_after_archiving_resumes_once(gateway, home):
    gateway.documents.failpoints = type(gateway.documents.failpoints)("outbound.after_archive=raise")
    with pytest.raises(RuntimeError):
        gateway.documents.submit(_body(shipment()), partner_id="acme-retail", set_id="945")
    gateway.documents.failpoints = type(gateway.documents.failpoints)("")
    assert gateway.documents.recover(startup=True) == 1
    assert gateway.documents.recover(startup=True) == 0
    sent = gateway.store.search(MessageQuery(direction="outbound", set_id="945")).items
    assert len(sent) == 1 and sent[0].delivery_status == "delivered"
    assert len(list((home / "var" / "channels" / "acme-retail" / "outbound").glob("*.x12"))) == 1


def test_a_partner_taking_csv_gets_the_records_as_csv(home, monkeypatch):
    from gateway.runtime import Gateway
    from gateway.settings import load_settings

    (home / "partners" / "csv-dc.yaml").write_text(
        "id: csv-dc\nname: CSV DC\nidentity:\n  interchange_ids: [{qualifier: ZZ, id: CSVDC}]\n"
        "channels:\n  - {name: out, type: folder, direction: outbound, path: channels/csv-dc/out}\n"
        'documents:\n  - {set_id: "945", direction: outbound, format: csv}\n'
        "acknowledgements: {expect_ack_within: 1h}\n"
    )
    monkeypatch.chdir(home)
    gw = Gateway(load_settings(home / "config" / "gateway.yaml", home=home))
    try:
        res = gw.documents.submit(_body(shipment(), shipment(shipment_id="B2")), partner_id="csv-dc")
        m = res.message
        assert res.valid and (m.document_format, m.delivery_status) == ("csv", "delivered")
        text = (home / "var" / "channels" / "csv-dc" / "out" / m.file_name).read_text()
        assert text.splitlines()[0].startswith("shipment_id") or "shipment_id" in text.splitlines()[0]
        assert "BOL12345" in text and "B2" in text
    finally:
        gw.stop()


def test_the_partner_default_ack_window_applies(gateway):
    # harbor-3pl declares {set_id: "940", direction: outbound, ack: {expect_ack_within: 2h}}
    order = {"type": "order", "order_number": "O1", "purchase_order": "P1",
             "lines": [{"line_number": "1", "quantity": "2", "uom": "EA", "product": {"vendor_part": "X"}}]}
    m = gateway.documents.submit(_body(order), partner_id="harbor-3pl").message
    assert m.ack_status == "waiting" and m.ack_due_at is not None, m.reason


def test_a_channel_that_is_down_retries_then_dead(home, monkeypatch, tmp_path):
    import subprocess
    from datetime import UTC, datetime, timedelta

    from gateway.runtime import Gateway
    from gateway.settings import load_settings
    from tests.support.sshd import free_port

    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", str(key)], check=True)
    monkeypatch.setenv("GATEWAY_SECRET_DOWN_KEY", key.read_text())
    (home / "partners" / "down-dc.yaml").write_text(f"""
id: down-dc
name: Down DC
identity: {{interchange_ids: [{{qualifier: ZZ, id: DOWNDC}}]}}
channels:
  - name: sftp
    type: sftp
    direction: outbound
    host: 127.0.0.1
    port: {free_port()}
    username: nobody
    private_key: {{secret: DOWN_KEY}}
    host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHikPzJJN/EHe/c+4pczzdYvMl8sqbDX8ZKnpAxQLST6
    outbound_dir: in
    timeout_seconds: 2
documents: [{{set_id: "945", direction: outbound}}]
retry: {{attempts: 2, backoff: 1s}}
""")
    monkeypatch.chdir(home)
    gw = Gateway(load_settings(home / "config" / "gateway.yaml", home=home))
    try:
        m = gw.documents.submit(_body(shipment()), partner_id="down-dc").message
        assert (m.status, m.validation_status, m.delivery_status) == ("retrying", "valid", "pending")  # retried
        gw.retries.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
        assert gw.retries.run_due() == 1
        m = gw.store.get(m.id)
        assert (m.status, m.delivery_status) == ("dead", "dead") and "gave up after 2 attempts" in m.reason
        assert [a.outcome for a in gw.store.delivery_attempts(m.id)] == ["retrying", "retrying"]
    finally:
        gw.stop()
