"""Issue 13 item 5: a manual resend that fails transiently is retried by the sweep, an old unscheduled
``retrying`` message gets its decision, and a ``queued`` message waiting for a channel is delivered once one exists.
Real store (SQLite and PostgreSQL), real archive, the memory transport."""

from __future__ import annotations

from datetime import timedelta

from gateway.flows import actions
from gateway.flows.outbound import OutboundFlow
from gateway.flows.retry import DeliveryRetries, RetryPolicy
from gateway.partners.registry import PartnerRegistry
from gateway.settings import OwnIdentity
from gateway.store.models import MessageStatus
from gateway.transports.memory import MemoryOutbound, MemoryServer
from tests.transports.test_retry import Clock, env, queued  # noqa: F401 - the shared fixture and helpers


def names(store, msg_id):
    return [e.name for e in store.events(msg_id)]


def test_a_manual_resend_that_fails_transiently_is_retried_by_the_sweep(env):  # noqa: F811
    store, archive, partner = env
    server = MemoryServer(reachable=False)
    clock = Clock()
    flow = OutboundFlow(store=store, archive=archive, channels=lambda p: [MemoryOutbound(server, channel="p/mem")])
    retries = DeliveryRetries(store=store, outbound=flow, policy=lambda p: RetryPolicy(attempts=3, backoff_seconds=5),
                              partner=lambda pid: partner, clock=clock)
    msg = queued(store, archive, partner)
    registry = PartnerRegistry([partner], OwnIdentity())
    after = actions.resend(store=store, archive=archive, registry=lambda: registry, outbound=retries,
                           message_id=msg.id, actor="api-key:ops")
    assert after.status == MessageStatus.retrying
    assert names(store, msg.id)[-1] == "delivery.retry_scheduled"
    server.reachable = True
    clock.now += timedelta(seconds=5)
    assert retries.run_due() == 1
    assert store.get(msg.id).status == MessageStatus.sent and server.outbox == {"ship.x12": b"ISA~945~"}


def test_a_retrying_message_never_scheduled_gets_its_decision_then_is_delivered(env):  # noqa: F811
    store, archive, partner = env
    server = MemoryServer(reachable=False)
    clock = Clock()
    flow = OutboundFlow(store=store, archive=archive, channels=lambda p: [MemoryOutbound(server, channel="p/mem")])
    retries = DeliveryRetries(store=store, outbound=flow, policy=lambda p: RetryPolicy(attempts=3, backoff_seconds=5),
                              partner=lambda pid: partner, clock=clock)
    msg = flow.deliver(queued(store, archive, partner), partner)  # the old resend path: no retry decision
    assert msg.status == MessageStatus.retrying and "delivery.retry_scheduled" not in names(store, msg.id)
    assert retries.run_due() == 0  # the sweep schedules it ...
    assert names(store, msg.id)[-1] == "delivery.retry_scheduled"
    server.reachable = True
    clock.now += timedelta(seconds=5)
    assert retries.run_due() == 1  # ... and delivers it when due
    assert store.get(msg.id).status == MessageStatus.sent


def test_a_queued_message_is_delivered_once_its_partner_has_an_outbound_channel(env):  # noqa: F811
    store, archive, partner = env
    server = MemoryServer()
    channels: list = []
    flow = OutboundFlow(store=store, archive=archive, channels=lambda p: list(channels))
    retries = DeliveryRetries(store=store, outbound=flow, policy=lambda p: RetryPolicy(),
                              partner=lambda pid: partner, clock=Clock())
    msg = retries.deliver(queued(store, archive, partner), partner)
    assert msg.status == MessageStatus.queued and "no outbound channel" in (msg.reason or "")
    assert retries.run_due() == 0  # still no channel: it waits
    channels.append(MemoryOutbound(server, channel="p/mem"))
    assert retries.run_due() == 1
    assert store.get(msg.id).status == MessageStatus.sent and server.outbox == {"ship.x12": b"ISA~945~"}
    assert retries.run_due() == 0
