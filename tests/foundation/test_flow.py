"""The inbound flow end to end, in-process: real files, real folders, the real store and archive."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.models import Direction, MessageStatus
from tests.support.gateway_home import drop, make_home, settled_message, wait_for


@pytest.fixture
def gateway(tmp_path):
    home = make_home(tmp_path)
    settings = load_settings(home / "config" / "gateway.yaml", folder={"min_age_seconds": 0.2, "sweep_seconds": 1})
    gw = Gateway(settings)
    gw.start()
    yield gw
    gw.stop()


def inbox(gw: Gateway, partner: str) -> Path:
    return gw.settings.data_path / "channels" / partner / "inbound"


def outbox(gw: Gateway, partner: str) -> Path:
    return gw.settings.data_path / "channels" / partner / "outbound"


def test_sample_856_is_archived_identified_acked_and_committed(gateway, repo_root):
    src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    drop(src, inbox(gateway, "harbor-3pl"))
    msg = settled_message(gateway, src.name)
    assert msg.status == MessageStatus.acked, msg.reason
    assert msg.partner_id == "harbor-3pl" and msg.set_ids == "856"
    # archived byte-exact
    assert gateway.archive.read_bytes(msg.archive_key) == src.read_bytes()
    # lineage: control numbers recorded
    lin = gateway.store.lineage(msg.id)
    assert [i.control_number for i in lin.interchanges] == ["000000091"]
    assert [g.control_number for g in lin.groups] == ["91"]
    assert [(t.set_id, t.control_number) for t in lin.transactions] == [("856", "0001")]
    # timeline in order, ending in acked
    names = [e.name for e in gateway.store.events(msg.id)]
    assert names[:4] == ["message.received", "message.archived", "envelope.read", "partner.identified"]
    assert names.index("ack.generated") < names.index("ack.sent") < names.index("source.committed")
    # the status steps end in acked; the mapping step (issue 4) and the hand-off (issue 14) add their events after it
    after = ("mapping.", "handoff.")
    assert [n for n in names if not n.startswith(after)][-1] == "message.acked"
    assert all(n.startswith(after) for n in names[names.index("message.acked") + 1 :])
    # 997 in the partner's outbound folder, addressed back to the sender
    [ack_file] = list(outbox(gateway, "harbor-3pl").iterdir())
    ack = ack_file.read_bytes()
    assert b"*ZZ*RECEIVER       *ZZ*SENDER         *" in ack
    assert b"ST*997*" in ack and b"AK1*SH*91" in ack and b"AK2*856*0001" in ack
    [link] = gateway.store.acks_of(msg.id)
    assert (link.kind, link.result) == ("997", "A")
    # source committed
    assert (inbox(gateway, "harbor-3pl") / "processed" / src.name).read_bytes() == src.read_bytes()
    assert not (inbox(gateway, "harbor-3pl") / src.name).exists()


@pytest.mark.parametrize(
    ("corpus_file", "partner", "set_id"),
    [
        ("940/x12types-940-generalmills-new.edi", "acme-retail", "940"),
        ("940/x12types-940-generalmills-change.edi", "acme-retail", "940"),
        ("214/ballerina-214-singleline.edi", "alink-carrier", "214"),
        ("945/x12types-945-5010-envelope.edi", "harbor-3pl", "945"),
    ],
)
def test_real_corpus_files_flow_through_example_partners(gateway, corpus, corpus_file, partner, set_id):
    src = corpus / corpus_file
    drop(src, inbox(gateway, partner))
    msg = settled_message(gateway, src.name)
    assert msg.partner_id == partner and set_id in (msg.set_ids or "")
    assert msg.status in (MessageStatus.acked, MessageStatus.failed), msg.reason
    assert gateway.store.acks_of(msg.id), "an acknowledgement was produced"
    folder = "processed" if msg.status == MessageStatus.acked else "failed"
    assert (inbox(gateway, partner) / folder / src.name).exists()


def test_unknown_sender_is_quarantined_with_the_sender_id_and_kept(gateway, corpus):
    src = corpus / "856" / "node-x12-856-004060.edi"  # ISA sender 12/4405197800: no partner claims it
    shutil.copy(src, inbox(gateway, "harbor-3pl").parent.parent / "x.edi")  # not in an inbox: never picked
    drop(src, inbox(gateway, "harbor-3pl"))
    msg = settled_message(gateway, src.name)
    assert msg.status == MessageStatus.quarantined
    assert "4405197800" in msg.reason
    assert (inbox(gateway, "harbor-3pl") / "failed" / src.name).read_bytes() == src.read_bytes()
    assert gateway.archive.read_bytes(msg.archive_key) == src.read_bytes()


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.edi", b"", "empty"),
        ("notes.txt", b"Dear partner, please find attached our invoice.\n", ""),
        ("binary.bin", bytes(range(256)) * 10, ""),
    ],
)
def test_bad_files_fail_visibly_and_are_moved_aside(gateway, tmp_path, name, content, words):
    src = tmp_path / name
    src.write_bytes(content)
    drop(src, inbox(gateway, "harbor-3pl"))
    msg = settled_message(gateway, name)
    assert msg.status == MessageStatus.failed
    assert msg.reason and words in msg.reason.lower()
    assert (inbox(gateway, "harbor-3pl") / "failed" / name).read_bytes() == content
    assert msg.error["kind"] in ("NotEDIError", "EnvelopeError", "DocumentError")


def test_truncated_interchange_fails_with_a_reason(gateway, repo_root, tmp_path):
    full = (repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi").read_bytes()
    src = tmp_path / "truncated.edi"
    src.write_bytes(full[: len(full) // 2])
    drop(src, inbox(gateway, "harbor-3pl"))
    msg = settled_message(gateway, "truncated.edi")
    assert msg.status == MessageStatus.failed and msg.reason
    assert (inbox(gateway, "harbor-3pl") / "failed" / "truncated.edi").exists()


def test_a_file_is_not_picked_twice_and_watcher_survives_bad_input(gateway, repo_root, tmp_path):
    bad = tmp_path / "junk.edi"
    bad.write_bytes(b"\x00\x01junk")
    drop(bad, inbox(gateway, "harbor-3pl"))
    settled_message(gateway, "junk.edi")
    good = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    drop(good, inbox(gateway, "harbor-3pl"), name="after-junk.edi")
    assert settled_message(gateway, "after-junk.edi").status == MessageStatus.acked
    assert gateway.store.list_messages(direction=Direction.inbound).total == 2


def test_acked_856_is_mapped_to_its_golden_canonical_records_and_keys(gateway, repo_root):
    import json

    src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    golden = json.loads(src.with_name("harbor-3pl-crossdock.canonical.json").read_text())
    drop(src, inbox(gateway, "harbor-3pl"), name="mapped-856.edi")
    msg = settled_message(gateway, "mapped-856.edi")
    assert msg.status == MessageStatus.acked, msg.reason
    wait_for(lambda: [e for e in gateway.store.events(msg.id) if e.name.startswith("mapping.")] or None)
    outs = gateway.store.outputs(msg.id, "canonical")
    assert len(outs) == 1
    assert json.loads(gateway.archive.read_bytes(outs[0].archive_key)) == golden
    names = [e.name for e in gateway.store.events(msg.id)]
    assert "mapping.done" in names and "mapping.failed" not in names
    shipment = golden["documents"][0]
    from gateway.store.search import MessageQuery

    found = gateway.store.search(MessageQuery(q=shipment["pro_number"]))
    assert msg.id in [m.id for m in found.items]


def test_a_document_that_cannot_be_mapped_keeps_its_ack_and_says_why(gateway, repo_root):
    # valid X12, but acme-retail's mapping overrides accept only the units CA and EA (strict table): PL is refused
    text = (repo_root / "samples" / "x12" / "940" / "acme-retail-new-order.edi").read_text()
    assert "W01*750*CA*" in text
    broken = text.replace("W01*750*CA*", "W01*750*PL*", 1)
    inbox_dir = inbox(gateway, "acme-retail")
    inbox_dir.mkdir(parents=True, exist_ok=True)
    tmp = inbox_dir.parent / "unmappable.tmp"
    tmp.write_text(broken)
    tmp.rename(inbox_dir / "unmappable-940.edi")
    msg = settled_message(gateway, "unmappable-940.edi")
    wait_for(lambda: [e for e in gateway.store.events(msg.id) if e.name.startswith("mapping.")] or None)
    events = {e.name: e for e in gateway.store.events(msg.id)}
    assert "mapping.failed" in events, list(events)
    assert msg.status == MessageStatus.acked, msg.reason  # the 997 stands: the X12 was valid
    detail = events["mapping.failed"].detail
    assert any("W01" in r and "PL" in r for r in detail["errors"]), detail
    assert detail["records"] >= 0
    outs = gateway.store.outputs(msg.id, "canonical")  # what did map is kept, the error beside it
    assert len(outs) == 1 and b'"error"' in gateway.archive.read_bytes(outs[0].archive_key)
