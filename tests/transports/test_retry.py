"""Outbound deliveries retried per the retry policy, then parked dead; every step on the message's timeline.
Real store (SQLite and PostgreSQL), real archive; the memory transport and a real (unreachable) SFTP target."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.flows.outbound import OutboundFlow
from gateway.flows.retry import DeliveryRetries, RetryPolicy
from gateway.partners.loader import load_partners
from gateway.store.archive import Archive
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from gateway.store.models import Direction, MessageStatus
from gateway.store.repository import Store
from gateway.transports.memory import MemoryOutbound, MemoryServer
from gateway.transports.sftp import SftpOutbound
from tests.support.gateway_home import REPO
from tests.support.sshd import free_port
from tests.transports.sftp_support import SftpHarness


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def env(database_url, tmp_path):
    engine = create_db_engine(database_url)
    upgrade(engine)
    store, archive = Store(engine), Archive(tmp_path / "archive")
    partners, problems = load_partners(REPO / "partners")
    assert not problems
    partner = next(p for p in partners if p.id == "acme-retail")
    yield store, archive, partner
    engine.dispose()


def queued(store, archive, partner, data=b"ISA~945~"):
    blob = archive.put_bytes(data)
    msg, _ = store.create_message(
        direction=Direction.outbound,
        status=MessageStatus.queued,
        partner_id=partner.id,
        file_name="ship.x12",
        size=blob.size,
        sha256=blob.sha256,
        archive_key=blob.key,
        events=[("message.queued", MessageStatus.queued, None)],
    )
    return msg


def test_transient_failures_are_retried_with_backoff_until_sent(env):
    store, archive, partner = env
    server = MemoryServer(reachable=False)
    clock = Clock()
    flow = OutboundFlow(store=store, archive=archive, channels=lambda p: [MemoryOutbound(server, channel="p/mem")])
    policy = RetryPolicy(attempts=4, backoff_seconds=10, factor=3)
    retries = DeliveryRetries(
        store=store, outbound=flow, policy=lambda p: policy, partner=lambda pid: partner, clock=clock
    )
    msg = retries.deliver(queued(store, archive, partner), partner)
    assert msg.status == MessageStatus.retrying
    assert retries.run_due() == 0  # not due yet
    clock.now += timedelta(seconds=10)
    assert retries.run_due() == 1  # second attempt fails too: next wait is 30 s
    clock.now += timedelta(seconds=29)
    assert retries.due() == []
    server.reachable = True
    clock.now += timedelta(seconds=1)
    assert retries.run_due() == 1
    final = store.get(msg.id)
    assert final.status == MessageStatus.sent and server.outbox == {"ship.x12": b"ISA~945~"}
    names = [e.name for e in store.events(msg.id)]
    assert names == [
        "message.queued",
        "delivery.failed",
        "delivery.retry_scheduled",
        "step.claimed",  # the sweep claims the message (retrying -> sending) before each attempt
        "delivery.failed",
        "delivery.retry_scheduled",
        "step.claimed",
        "message.sent",
    ]
    scheduled = [e.detail for e in store.events(msg.id) if e.name == "delivery.retry_scheduled"]
    assert [d["attempt"] for d in scheduled] == [2, 3]
    assert [d["due"] for d in scheduled] == ["2026-01-05T09:00:10+00:00", "2026-01-05T09:00:40+00:00"]


@pytest.mark.sftp
def test_exhausted_retries_park_the_message_dead_with_the_reason(env, sshd_server):
    store, archive, partner = env
    settings = replace(SftpHarness(sshd_server).settings, port=free_port(), timeout_seconds=2)
    flow = OutboundFlow(store=store, archive=archive, channels=lambda p: [SftpOutbound(settings, channel="p/sftp")])
    clock = Clock()
    retries = DeliveryRetries(
        store=store,
        outbound=flow,
        policy=lambda p: RetryPolicy(attempts=3, backoff_seconds=1),
        partner=lambda pid: partner,
        clock=clock,
    )
    msg = retries.deliver(queued(store, archive, partner), partner)
    for _ in range(5):
        clock.now += timedelta(hours=1)
        retries.run_due()
    final = store.get(msg.id)
    assert final.status == MessageStatus.dead
    assert final.reason.startswith("gave up after 3 attempts; the last: sftp://") and "cannot connect" in final.reason
    names = [e.name for e in store.events(msg.id)]
    assert names.count("delivery.failed") == 3 and names[-1] == "delivery.dead"


def test_permanent_errors_are_not_retried(env):
    store, archive, partner = env
    server = MemoryServer(credential="right")
    flow = OutboundFlow(
        store=store, archive=archive, channels=lambda p: [MemoryOutbound(server, channel="p/m", credential="wrong")]
    )
    retries = DeliveryRetries(
        store=store, outbound=flow, policy=lambda p: RetryPolicy(), partner=lambda pid: partner, clock=Clock()
    )
    msg = retries.deliver(queued(store, archive, partner), partner)
    assert msg.status == MessageStatus.failed and "refused the credential" in msg.reason
    assert retries.due() == []
