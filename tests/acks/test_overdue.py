"""The overdue-acknowledgement job on both backends: claims are exclusive across concurrent callers (several
nodes on PostgreSQL), ``on_overdue: resend`` resends at most ``max_resends`` times and then alerts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import yaml

from gateway.flows.outbound import OutboundFlow
from gateway.flows.overdue import OverdueAcks
from gateway.flows.retry import DeliveryRetries, RetryPolicy
from gateway.partners.schema import Partner
from gateway.store.archive import Archive
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from gateway.store.models import Direction, MessageStatus
from gateway.store.reconciliation import claim_overdue
from gateway.store.repository import Store
from gateway.transports.memory import MemoryOutbound, MemoryServer
from tests.support.gateway_home import REPO

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def harbor(**ack) -> Partner:
    data = yaml.safe_load((REPO / "partners" / "harbor-3pl.yaml").read_text())
    for doc in data["documents"]:
        if doc["set_id"] == "940":
            doc["ack"] = {"expect_ack_within": "2h", **ack}
    return Partner.model_validate(data)


def waiting(store: Store, archive: Archive, n: int, *, due: datetime) -> list[int]:
    ids = []
    for i in range(n):
        blob = archive.put_bytes(f"ISA~940~{i}~".encode())
        msg, _ = store.create_message(
            direction=Direction.outbound, status=MessageStatus.sent, partner_id="harbor-3pl", set_ids="940",
            file_name=f"order-{i}.x12", size=blob.size, sha256=blob.sha256, archive_key=blob.key,
            events=[("message.created", MessageStatus.sent, None)],
        )
        store.update(msg.id, ack_status="waiting", ack_due_at=due)
        ids.append(msg.id)
    return ids


def test_concurrent_claims_mark_each_document_overdue_exactly_once(database_url, tmp_path):
    engine = create_db_engine(database_url)
    upgrade(engine)
    try:
        store, archive = Store(engine), Archive(tmp_path / "archive")
        ids = waiting(store, archive, 40, due=NOW - timedelta(minutes=1))
        later = waiting(store, archive, 3, due=NOW + timedelta(hours=1))
        got: list[list[int]] = []
        start = threading.Barrier(4)

        def node() -> None:
            start.wait()
            mine: list[int] = []
            while batch := claim_overdue(store, now=NOW, limit=5):
                mine += [m.id for m in batch]
            got.append(mine)

        threads = [threading.Thread(target=node) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        claimed = [i for mine in got for i in mine]
        assert sorted(claimed) == ids  # every due document once, none twice, none early
        for i in ids:
            assert store.get(i).ack_status == "overdue"
            assert [e.name for e in store.events(i)].count("ack.overdue") == 1
        assert {store.get(i).ack_status for i in later} == {"waiting"}
    finally:
        engine.dispose()


def test_on_overdue_resend_resends_at_most_max_resends_then_alerts(database_url, tmp_path):
    engine = create_db_engine(database_url)
    upgrade(engine)
    try:
        store, archive = Store(engine), Archive(tmp_path / "archive")
        partner = harbor(on_overdue="resend", max_resends=1)
        server = MemoryServer()
        flow = OutboundFlow(store=store, archive=archive, channels=lambda p: [MemoryOutbound(server, channel="m")])
        clock = [NOW]
        retries = DeliveryRetries(store=store, outbound=flow, policy=lambda p: RetryPolicy(),
                                  partner=lambda pid: partner, clock=lambda: clock[0])
        job = OverdueAcks(store=store, outbound=retries, partner=lambda pid: partner, clock=lambda: clock[0])
        [doc] = waiting(store, archive, 1, due=NOW - timedelta(seconds=1))
        first = job.run()
        assert first.resent == [doc] and first.alerted == []
        m = store.get(doc)
        assert (m.ack_status, m.status, m.ack_due_at) == ("waiting", MessageStatus.sent, NOW + timedelta(hours=2))
        assert server.outbox == {"order-0.x12": b"ISA~940~0~"}
        clock[0] = NOW + timedelta(hours=2, seconds=1)
        second = job.run()
        assert second.alerted == [doc] and second.resent == []
        assert store.get(doc).ack_status == "overdue"
        names = [e.name for e in store.events(doc)]
        assert names.count("ack.resent") == 1 and names.count("ack.overdue") == 2
        assert job.run().alerted == []  # claimed once: nothing more to do
    finally:
        engine.dispose()
