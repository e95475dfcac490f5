"""Declared documents are enforced per partner, on real corpus files: refused with AK5/IK5 and the reason, or
accepted with a warning on the timeline, as the partner file says (``declared: {undeclared, other_version}``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.edi.x12 import AckOptions, analyze, build_acknowledgement, read_segments
from gateway.edi.x12.ack import SequentialControlNumbers
from gateway.flows.declared import enforce_declared, version_matches
from gateway.partners.schema import Partner
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.models import Direction, MessageStatus
from tests.support.gateway_home import drop, make_home, wait_for

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus" / "x12"
ASN_856 = CORPUS / "856" / "edienginee-856-crossdock.edi"  # ZZ/SENDER -> ZZ/RECEIVER, GS08 004010
SHIP_945_5010 = CORPUS / "945" / "x12types-945-5010-envelope.edi"  # ZZ/SENDER -> ZZ/RECEIVER, GS08 005010
ACK_997 = CORPUS / "997" / "pyx12-997-3st.edi"


def partner(documents: list[dict], **declared: str) -> Partner:
    return Partner.model_validate({
        "id": "harbor-3pl", "name": "Harbor", "identity": {"interchange_ids": [{"qualifier": "ZZ", "id": "SENDER"}]},
        "documents": documents, "declared": declared,
    })


def ack_segments(path: Path, p: Partner, kind: str = "auto") -> list[list[str]]:
    analysis = analyze(path.read_bytes(), tolerant=True)
    enforce_declared(analysis, p)
    options = AckOptions(timestamp=datetime(2026, 12, 6, 12, 0, tzinfo=UTC), functional_ack=kind)
    data = build_acknowledgement(analysis.interchanges[0], control_numbers=SequentialControlNumbers(1, 1),
                                 options=options)
    assert data is not None
    return [s.elements for s in read_segments(data)]


# ------------------------------------------------------------------------------------------------ pure
def test_an_856_from_a_partner_that_declared_only_940_is_refused_with_ak5_r_1():
    p = partner([{"set_id": "940", "direction": "inbound"}, {"set_id": "856", "direction": "outbound"}])
    analysis = analyze(ASN_856.read_bytes(), tolerant=True)
    assert analysis.valid
    [finding] = enforce_declared(analysis, p, file="asn.edi")
    assert not analysis.valid and finding.action == "rejected"
    assert finding.issue.code == "transaction_set_not_declared"
    reason = "856 is not declared inbound for partner harbor-3pl (declared inbound: 940 (004010))"
    assert reason in finding.issue.message
    assert analysis.errors[0] is finding.issue  # the reason comes first
    segs = ack_segments(ASN_856, p)
    assert ["AK2", "856", "0001"] in segs and ["AK5", "R", "1"] in segs and ["AK9", "R", "1", "1", "0"] in segs


def test_a_version_other_than_the_declared_one_is_refused_with_ik5_r_1():
    p = partner([{"set_id": "856", "direction": "inbound", "version": "004010VICS"}])
    analysis = analyze(ASN_856.read_bytes(), tolerant=True)
    [finding] = enforce_declared(analysis, p)
    assert finding.issue.code == "transaction_set_version_not_declared"
    assert "came in version 004010 (GS08), but partner harbor-3pl declared 004010VICS" in finding.issue.message
    assert ["AK5", "R", "1"] in ack_segments(ASN_856, p)
    segs = ack_segments(ASN_856, p, kind="999")  # a partner answered with 999s: IK5
    assert ["IK5", "R", "1"] in segs
    # a file with errors of its own (SE01, N102) in 005010 against a declared 004010: the version is named too
    p = partner([{"set_id": "945", "direction": "inbound", "version": "004010"}])
    [finding] = enforce_declared(analyze(SHIP_945_5010.read_bytes(), tolerant=True), p)
    assert "came in version 005010 (GS08), but partner harbor-3pl declared 004010" in finding.issue.message


def test_warn_accepts_and_keeps_the_warning_out_of_the_partners_ack():
    p = partner([{"set_id": "940", "direction": "inbound"}], undeclared="warn")
    analysis = analyze(ASN_856.read_bytes(), tolerant=True)
    [finding] = enforce_declared(analysis, p)
    assert analysis.valid and finding.action == "accepted" and finding.issue in analysis.warnings
    assert "accepted as the partner file says" in finding.issue.message
    segs = ack_segments(ASN_856, p)
    assert ["AK5", "A"] in segs
    # other_version keeps its own setting: the 856 in 004010 against a declared 004010VICS is still refused
    p = partner([{"set_id": "856", "direction": "inbound", "version": "004010VICS"}], undeclared="warn")
    assert [f.action for f in enforce_declared(analyze(ASN_856.read_bytes(), tolerant=True), p)] == ["rejected"]


def test_declared_sets_and_acknowledgements_pass():
    p = partner([{"set_id": "856", "direction": "inbound"}, {"set_id": "945", "direction": "inbound",
                                                              "version": "005010"}])
    for path in (ASN_856, SHIP_945_5010, ACK_997):  # a 997 answers what we sent: never "undeclared"
        analysis = analyze(path.read_bytes(), tolerant=True)
        valid = analysis.valid
        assert enforce_declared(analysis, p) == [] and analysis.valid == valid


@pytest.mark.parametrize(("declared", "sent", "ok"), [
    ("004010", "004010", True), ("004010", "004010VICS", True), ("004010VICS", "004010VICS", True),
    ("004010VICS", "004010", False), ("004010UCS", "004010VICS", False), ("004010", "005010", False),
])
def test_version_matching(declared, sent, ok):
    assert version_matches(declared, sent) is ok


# ------------------------------------------------------------------------------------------------ the flow
@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


def run_gateway(home: Path, documents: str, declared: str = ""):
    path = home / "partners" / "harbor-3pl.yaml"
    text = path.read_text()
    start, end = text.index("documents:"), text.index("reading:")
    path.write_text(text[:start] + documents + declared + text[end:])
    settings = load_settings(home / "config" / "gateway.yaml", folder={"min_age_seconds": 0.2, "sweep_seconds": 1})
    gw = Gateway(settings)
    gw.start()
    return gw


def final(gw: Gateway, name: str):
    def check():
        for m in gw.store.list_messages(limit=50, direction=Direction.inbound).items:
            if m.file_name == name and m.status in (MessageStatus.acked, MessageStatus.failed):
                return m
        return None

    return wait_for(check, timeout=15)


def test_flow_refuses_the_undeclared_856_with_the_reason(home):
    gw = run_gateway(home, 'documents:\n  - {set_id: "940", direction: inbound}\n')
    try:
        drop(ASN_856, gw.settings.data_path / "channels" / "harbor-3pl" / "inbound")
        msg = final(gw, ASN_856.name)
        assert msg.status == MessageStatus.failed
        assert "transaction set 856 is not declared inbound for partner harbor-3pl" in msg.reason
        events = {e.name: e for e in gw.store.events(msg.id)}
        assert events["document.undeclared"].detail["action"] == "rejected"
        [link] = gw.store.acks_of(msg.id)
        assert (link.kind, link.result) == ("997", "R")
        ack = gw.archive.read_bytes(gw.store.get(link.ack_message_id).archive_key)
        assert b"AK5*R*1" in ack
        assert (gw.settings.data_path / "channels" / "harbor-3pl" / "inbound" / "failed" / ASN_856.name).exists()
    finally:
        gw.stop()


def test_flow_accepts_with_a_warning_on_the_timeline_when_the_partner_file_says_warn(home):
    gw = run_gateway(home, 'documents:\n  - {set_id: "940", direction: inbound}\n', "declared: {undeclared: warn}\n")
    try:
        drop(ASN_856, gw.settings.data_path / "channels" / "harbor-3pl" / "inbound")
        msg = final(gw, ASN_856.name)
        assert msg.status == MessageStatus.acked, msg.reason
        [warning] = [e for e in gw.store.events(msg.id) if e.name == "document.undeclared"]
        assert warning.detail["action"] == "accepted" and warning.detail["set_id"] == "856"
        assert "accepted as the partner file says" in warning.detail["reason"]
        [link] = gw.store.acks_of(msg.id)
        assert link.result == "A"
        ack = gw.archive.read_bytes(gw.store.get(link.ack_message_id).archive_key)
        assert b"AK5*A" in ack
    finally:
        gw.stop()


def test_flow_refuses_a_version_other_than_the_declared_one(home):
    gw = run_gateway(home, 'documents:\n  - {set_id: "856", direction: inbound, version: "004010VICS"}\n')
    try:
        drop(ASN_856, gw.settings.data_path / "channels" / "harbor-3pl" / "inbound")
        msg = final(gw, ASN_856.name)
        assert msg.status == MessageStatus.failed
        assert "came in version 004010 (GS08), but partner harbor-3pl declared 004010VICS" in msg.reason
        [link] = gw.store.acks_of(msg.id)
        assert link.result == "R"
    finally:
        gw.stop()
