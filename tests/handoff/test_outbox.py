"""The outbox on both backends: release once, claims in order per lane with leases that two owners never share,
outcomes and statuses written together, pull confirm, acknowledgement outcomes added once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.handoff.events import ack_outcome_event, iter_record_events
from gateway.handoff.outbox import Outbox, Outcome
from gateway.store.models import Direction, MessageStatus
from gateway.store.repository import Store

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def message(store: Store, partner: str, n: int) -> int:
    msg, _ = store.create_message(direction=Direction.inbound, status=MessageStatus.acked, partner_id=partner,
                                  sha256="0" * 64, idempotency_key=f"{partner}-{n}", events=[])
    assert msg.id is not None
    return msg.id


def release(outbox: Outbox, mid: int, partner: str, records: int = 1, targets=(("bus", "rabbitmq"),)) -> bool:
    docs = [{"type": "order", "order_number": f"{mid}-{i}"} for i in range(records)]
    events = iter_record_events(message_id=mid, partner=partner, documents=docs, set_ids=["940"] * records,
                                keys_of=lambda d: [("order", d["order_number"])], occurred_at=T0)
    return outbox.release(mid, [(e, list(targets)) for e in events], now=T0)


def test_release_is_written_once_and_events_carry_stable_ids(store):
    outbox = Outbox(store.engine)
    mid = message(store, "acme", 1)
    assert release(outbox, mid, "acme", records=2)
    assert not release(outbox, mid, "acme", records=2)  # a second release (flow and recovery) writes nothing
    rows = outbox.rows_of(mid)
    assert [r.event_id for r in rows] == [f"{mid}-1", f"{mid}-2"]
    assert store.get(mid).handoff_status == "pending"
    assert [e.name for e in store.events(mid)] == ["handoff.released"]


def test_claims_keep_order_per_lane_and_never_share_rows(store):
    outbox = Outbox(store.engine)
    a = [message(store, "acme", n) for n in range(3)]
    b = [message(store, "harbor", n) for n in range(2)]
    for mid in a:
        release(outbox, mid, "acme")
    for mid in b:
        release(outbox, mid, "harbor")
    first = outbox.claim(owner="node-1", now=T0, lease=LEASE, destinations=["bus"], limit=2)
    # limit 2 locks acme's first two rows only: acme's lane is claimed from its head, harbor's not at all
    assert {lane: [r.message_id for r in rows] for lane, rows in first.items()} == {"bus|acme": a[:2]}
    second = outbox.claim(owner="node-2", now=T0, lease=LEASE, destinations=["bus"])
    # node-2 may not take acme's third row while the first two are leased elsewhere: it would overtake them
    assert {lane: [r.message_id for r in rows] for lane, rows in second.items()} == {"bus|harbor": b}
    # node-1 delivers the first and fails the second: the third waits behind the retry
    r1, r2 = first["bus|acme"]
    outbox.complete([Outcome(r1, True, {"ok": 1}), Outcome(r2, False, {}, "down", T0 + timedelta(seconds=60))],
                    now=T0, owner="node-1")
    assert outbox.claim(owner="node-3", now=T0 + timedelta(seconds=5), lease=LEASE, destinations=["bus"]) == {}
    # the retry is due: the lane resumes in order
    later = outbox.claim(owner="node-3", now=T0 + timedelta(seconds=61), lease=LEASE, destinations=["bus"])
    assert [r.message_id for r in later["bus|acme"]] == [a[1], a[2]]
    assert store.get(a[0]).handoff_status == "delivered" and store.get(a[1]).handoff_status == "retrying"
    names = [e.name for e in store.events(a[1])]
    assert names == ["handoff.released", "handoff.retry_scheduled"]


def test_an_expired_lease_is_anyones(store):
    outbox = Outbox(store.engine)
    mid = message(store, "acme", 1)
    release(outbox, mid, "acme")
    assert outbox.claim(owner="dead", now=T0, lease=LEASE, destinations=["bus"])
    assert outbox.claim(owner="alive", now=T0 + timedelta(seconds=10), lease=LEASE, destinations=["bus"]) == {}
    got = outbox.claim(owner="alive", now=T0 + timedelta(seconds=31), lease=LEASE, destinations=["bus"])
    row = got["bus|acme"][0]
    outbox.complete([Outcome(row, True, {})], now=T0, owner="dead")  # the old owner's late answer is ignored
    assert outbox.rows_of(mid)[0].status == "pending"
    outbox.complete([Outcome(row, True, {})], now=T0, owner="alive")
    assert outbox.rows_of(mid)[0].status == "delivered"


def test_unrouted_records_wait_visibly_and_pull_rows_are_confirmed(store):
    outbox = Outbox(store.engine)
    mid = message(store, "acme", 1)
    assert release(outbox, mid, "acme", targets=())
    assert store.get(mid).handoff_status == "unrouted"
    assert [e.name for e in store.events(mid)] == ["handoff.released", "handoff.unrouted"]
    docs = [{"type": "order", "order_number": "x"}]
    event = next(iter_record_events(message_id=mid, partner="acme", documents=docs, set_ids=["940"],
                                    keys_of=lambda d: [], occurred_at=T0))
    outbox.release(mid, [(event, [("erp", "pull")])], now=T0, replay=True, actor="api-key:ops")
    assert [r.destination for r in outbox.rows_of(mid)] == ["erp"]  # no longer unrouted
    assert [r.event_id for r in outbox.inbox("erp", after=0, limit=10)] == [f"{mid}-1"]
    assert outbox.confirm("erp", [f"{mid}-1"], now=T0, actor="api-key:ops") == [f"{mid}-1"]
    assert outbox.inbox("erp", after=0, limit=10) == []
    assert store.get(mid).handoff_status == "delivered"


def test_ack_outcomes_are_added_once_per_outcome(store):
    outbox = Outbox(store.engine)
    mid = message(store, "acme", 1)
    overdue = ack_outcome_event(message_id=mid, partner="acme", outcome="overdue", set_ids=["945"], occurred_at=T0)
    assert outbox.release(mid, [(overdue, [("bus", "rabbitmq")])], now=T0, gate=False)
    assert not outbox.release(mid, [(overdue, [("bus", "rabbitmq")])], now=T0, gate=False)
    rejected = ack_outcome_event(message_id=mid, partner="acme", outcome="rejected", set_ids=["945"],
                                 reasons=["AK3 segment W12 position 5: mandatory element missing"], occurred_at=T0)
    assert outbox.release(mid, [(rejected, [("bus", "rabbitmq")])], now=T0, gate=False)
    assert [r.event_id for r in outbox.rows_of(mid)] == [f"{mid}-ack-overdue", f"{mid}-ack-rejected"]
    with pytest.raises(ValueError, match="unknown acknowledgement outcome"):
        ack_outcome_event(message_id=mid, partner="acme", outcome="maybe", occurred_at=T0)


def test_a_lane_waiting_for_a_retry_does_not_starve_the_others(store):
    outbox = Outbox(store.engine)
    a = [message(store, "acme", n) for n in range(6)]
    b = message(store, "harbor", 1)
    for mid in a:
        release(outbox, mid, "acme")
    release(outbox, b, "harbor")
    head = outbox.claim(owner="n1", now=T0, lease=LEASE, destinations=["bus"], limit=1)["bus|acme"][0]
    outbox.complete([Outcome(head, False, {}, "down", T0 + timedelta(minutes=5))], now=T0, owner="n1")
    # five acme rows wait behind the retry; a claim limited to 3 rows still finds harbor's
    got = outbox.claim(owner="n2", now=T0, lease=LEASE, destinations=["bus"], limit=3)
    assert list(got) == ["bus|harbor"] and got["bus|harbor"][0].message_id == b
