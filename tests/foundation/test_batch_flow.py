"""The inbound flow takes a poll's files as one batch (group commit, gateway/flows/inbound_batch.py): every file
ends as it would alone, also when the batch mixes good files with a duplicate, a file that is not X12 and a file
from an unknown sender (those leave the batch for the single-message path)."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.store.models import HandoffStatus, MessageStatus
from gateway.transports.folder import FolderInbound
from tests.support.gateway_home import drop


def test_a_mixed_batch_ends_each_file_as_alone_with_one_ack_each(gateway, repo_root, tmp_path):
    sample = (repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi").read_bytes()
    inbox = gateway.settings.data_path / "channels" / "harbor-3pl" / "inbound"
    files = {}
    for i in range(5):  # five interchanges (ISA13/IEA02 changed: the same one twice is a duplicate)
        files[f"asn-{i}.edi"] = sample.replace(b"000000091", f"00000010{i}".encode())
    files["asn-again.edi"] = files["asn-1.edi"]  # the same interchange again, in the same batch
    files["junk.edi"] = b"this is not an interchange at all\n"
    files["stranger.edi"] = files["asn-4.edi"].replace(b"ZZ*SENDER         ", b"ZZ*NOBODYKNOWS    ")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        drop(tmp_path / name, inbox)
    folder = FolderInbound(channel="harbor-3pl/inbox", path=inbox, partner_id="harbor-3pl", min_age_seconds=0)
    items, _ = folder.poll()
    assert len(items) == len(files)

    got = gateway.inbound.receive_many(items)

    status = {m.file_name: gateway.store.get(m.id).status for m in got}
    assert status == {
        **{f"asn-{i}.edi": MessageStatus.acked for i in range(5)},
        "asn-again.edi": MessageStatus.duplicate,
        "junk.edi": MessageStatus.failed,
        "stranger.edi": MessageStatus.quarantined,
    }
    by_name = {m.file_name: m for m in got}
    outbox = gateway.settings.data_path / "channels" / "harbor-3pl" / "outbound"
    acks = sorted(p.read_bytes() for p in outbox.iterdir())
    assert len(acks) == 5  # one 997 each for the accepted files, none for the duplicate
    assert len({a[90:99] for a in acks}) == 5  # with distinct interchange control numbers (ISA13)
    for i in range(5):
        m = gateway.store.get(by_name[f"asn-{i}.edi"].id)
        names = [e.name for e in gateway.store.events(m.id)]
        assert names[:4] == ["message.received", "message.archived", "envelope.read", "partner.identified"]
        assert names.index("ack.generated") < names.index("ack.sent") < names.index("source.committed")
        assert names.index("message.acked") < names.index("mapping.done") < names.index("handoff.released")
        assert m.handoff_status is not None and m.handoff_status != HandoffStatus.skipped
        assert m.lease_owner is None  # given back
        [link] = gateway.store.acks_of(m.id)
        assert (link.kind, link.result) == ("997", "A")
        assert gateway.store.lineage(m.id).interchanges[0].control_number == f"00000010{i}"
    dup = gateway.store.get(by_name["asn-again.edi"].id)
    assert str(by_name["asn-1.edi"].id) in (dup.reason or "")
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == sorted(
        [f"asn-{i}.edi" for i in range(5)] + ["asn-again.edi"])
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == ["junk.edi", "stranger.edi"]
    with gateway.engine.connect() as c:  # each file's records handed off once
        q = sa.text("SELECT message_id, count(DISTINCT event_id) FROM handoff GROUP BY message_id")
        per = dict(c.execute(q).all())
    assert set(per) == {by_name[f"asn-{i}.edi"].id for i in range(5)}


def test_a_redelivered_item_in_a_batch_resumes_its_message_and_the_others_go_through(gateway, repo_root, tmp_path):
    sample = (repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi").read_bytes()
    inbox = gateway.settings.data_path / "channels" / "harbor-3pl" / "inbound"
    folder = FolderInbound(channel="harbor-3pl/inbox", path=inbox, partner_id="harbor-3pl", min_age_seconds=0)
    (tmp_path / "first.edi").write_bytes(sample)
    drop(tmp_path / "first.edi", inbox)
    [first_item], _ = folder.poll()
    first = gateway.inbound.receive(first_item)
    assert first is not None and gateway.store.get(first.id).status == MessageStatus.acked
    (tmp_path / "second.edi").write_bytes(sample.replace(b"000000091", b"000000200"))
    drop(tmp_path / "second.edi", inbox)
    items, _ = folder.poll()
    # the first file again (its source was committed: offered again as if a crash had come before the commit)
    got = gateway.inbound.receive_many([first_item, *items])
    assert got[0] is not None and got[0].id == first.id  # resumed, not a second message
    assert [gateway.store.get(m.id).status for m in got if m is not None] == [MessageStatus.acked] * 2
    with gateway.engine.connect() as c:
        acks = c.execute(sa.text("SELECT count(*) FROM message WHERE idempotency_key LIKE 'ack:%'")).scalar()
    assert acks == 2  # the resumed message is not acknowledged twice
