"""Reconciliation against the store, in-process: partial acceptance (AK9 P) across the sets of one document,
control numbers written with other padding, a group answered without AK2, and an acknowledgement reprocessed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.edi.x12 import analyze
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.models import Direction, MessageStatus
from gateway.store.reconciliation import aggregate
from tests.support.gateway_home import make_home
from tests.support.outbound_docs import send_document

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "x12"


@pytest.fixture
def gw(tmp_path):
    gateway = Gateway(load_settings(make_home(tmp_path) / "config" / "gateway.yaml"))
    yield gateway
    gateway.engine.dispose()


def two_orders(records: list[dict]) -> None:
    second = json.loads(json.dumps(records[0]))
    second["order_number"] = "SECOND-ORDER"
    records.insert(1, second)


def receive(gw: Gateway, text: str) -> object:
    """An inbound 997 from harbor-3pl recorded as the inbound flow records it, then reconciled."""
    data = text.replace("\n", "").encode()
    blob = gw.archive.put_bytes(data)
    msg, _ = gw.store.create_message(direction=Direction.inbound, status=MessageStatus.processing,
                                     partner_id="harbor-3pl", file_name="997.x12", size=blob.size,
                                     sha256=blob.sha256, archive_key=blob.key, events=[])
    assert analyze(data).valid
    return gw.inbound.reconciler.reconcile(msg, "harbor-3pl"), msg


def last_ack(gw: Gateway, message_id: int) -> Any:
    """The last acknowledgement event of a document (the hand-off of the verdict may follow it)."""
    return [e for e in gw.store.events(message_id) if e.name.startswith("ack.")][-1]


def ack997(group: str, body: str, ak9: str, isa13: str = "000000501") -> str:
    segs = [s for s in body.split("~") if s]
    n = len(segs) + 4  # ST, AK1, AK9, SE
    return (f"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261206*1200*U*00401*{isa13}*0*P*>~"
            f"GS*FA*SENDER*RECEIVER*20261206*1200*501*X*004010~ST*997*0001~AK1*OW*{group}~{body}{ak9}"
            f"SE*{n}*0001~GE*1*501~IEA*1*{isa13}~")


def test_partial_acceptance_with_other_padding(gw):
    sent = send_document(gw, "harbor-3pl", SAMPLES / "940" / "acme-retail-new-order.canonical.json",
                         set_id="940", edit=two_orders, count=2)
    assert [s for _, s in sent.sets] == ["0001", "0002"]
    group = sent.group.zfill(9)  # we wrote GS06 "1"; they quote it as 000000001
    body = ("AK2*940*00001~AK5*A~"  # ST02 0001 quoted with other padding
            "AK2*940*000000002~AK3*W05*2**8~AK4*2*324*1~AK5*R*5~")
    result, ack = receive(gw, ack997(group, body, "AK9*P*2*2*1~"))
    assert result.matched == {sent.message.id: "partially_accepted"} and result.unmatched == []
    assert [t.ack_code for t in gw.store.lineage(sent.message.id).transactions] == ["A", "R"]
    event = last_ack(gw, sent.message.id)
    assert event.name == "ack.partially_accepted"
    assert any("element W0502 (ref 324): mandatory data element missing (code 1); canonical field order_number"
               in line for line in event.detail["lines"])
    [link] = gw.store.acks_of(sent.message.id)
    assert (link.kind, link.result, link.ack_message_id) == ("997", "P", ack.id)
    # the same acknowledgement reconciled again (a reprocess): nothing recorded twice
    gw.inbound.reconciler.reconcile(ack, "harbor-3pl")
    assert [e.name for e in gw.store.events(sent.message.id)].count("ack.partially_accepted") == 1
    assert len(gw.store.acks_of(sent.message.id)) == 1


def test_group_rejected_without_ak2_rejects_every_set(gw):
    sent = send_document(gw, "harbor-3pl", SAMPLES / "940" / "acme-retail-new-order.canonical.json",
                         set_id="940", edit=two_orders, count=2)
    result, _ = receive(gw, ack997(sent.group, "", "AK9*R*2*2*0*2~", isa13="000000502"))
    assert result.matched == {sent.message.id: "rejected"}
    assert [t.ack_code for t in gw.store.lineage(sent.message.id).transactions] == ["R", "R"]
    lines = last_ack(gw, sent.message.id).detail["lines"]
    assert "functional group version not supported (code 2)" in " ".join(lines)


def test_a_set_we_never_sent_is_reported(gw):
    sent = send_document(gw, "harbor-3pl", SAMPLES / "940" / "acme-retail-new-order.canonical.json", set_id="940")
    result, _ = receive(gw, ack997(sent.group, "AK2*940*0001~AK5*A~AK2*940*0077~AK5*A~", "AK9*A*2*2*2~",
                                   isa13="000000503"))
    assert result.matched == {sent.message.id: "accepted"}
    assert result.unmatched == [f"997 answers set 940 0077 in group OW {sent.group}: that group (message "
                                f"{sent.message.id}) holds no such set"]


@pytest.mark.parametrize(
    ("codes", "status"),
    [(["A", "A"], "accepted"), (["A", "E"], "accepted_with_errors"), (["R", "R"], "rejected"),
     (["A", "R"], "partially_accepted"), (["E", "R", None], "partially_accepted"), ([None], None)],
)
def test_aggregate(codes, status):
    assert aggregate(codes) == status
