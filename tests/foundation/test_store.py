"""The store on both backends (SQLite and PostgreSQL): one code path."""

import threading

import pytest

from gateway.errors import NotFoundError
from gateway.store.migrate import current_revision, head_revision, upgrade
from gateway.store.models import Direction, MessageStatus
from gateway.store.repository import GroupRecord, InterchangeRecord, SetRecord


def new(store, key=None, **kw):
    fields = dict(direction=Direction.inbound, status=MessageStatus.archived, sha256="a" * 64, size=3)
    fields.update(kw)
    return store.create_message(
        idempotency_key=key,
        events=[
            ("message.received", MessageStatus.received, None),
            ("message.archived", MessageStatus.archived, {"size": 3}),
        ],
        **fields,
    )


def test_migrations_reach_head_and_are_idempotent(store):
    assert current_revision(store.engine) == head_revision()
    upgrade(store.engine)  # a second start applies nothing and does not fail
    assert current_revision(store.engine) == head_revision()


def test_idempotency_key_returns_the_existing_message(store):
    m1, created1 = new(store, key="folder:/in/a.x12:10:1")
    m2, created2 = new(store, key="folder:/in/a.x12:10:1")
    assert created1 and not created2 and m1.id == m2.id
    assert [e.name for e in store.events(m1.id)] == ["message.received", "message.archived"]


def test_update_writes_status_and_event_together_and_times_are_aware(store):
    m, _ = new(store, key="k")
    store.update(m.id, event="message.acked", status=MessageStatus.acked, partner_id="p1")
    got = store.get(m.id)
    assert got.status == MessageStatus.acked and got.partner_id == "p1"
    assert got.created_at.tzinfo is not None
    ev = store.events(m.id)[-1]
    assert ev.name == "message.acked" and ev.status == MessageStatus.acked and ev.at.tzinfo is not None


def test_list_newest_first_with_total_and_filters(store):
    ids = [new(store, key=f"k{i}", partner_id="a" if i % 2 else "b")[0].id for i in range(5)]
    page = store.list_messages(page=1, limit=2)
    assert page.total == 5 and [m.id for m in page.items] == ids[::-1][:2]
    page2 = store.list_messages(page=2, limit=2)
    assert [m.id for m in page2.items] == ids[::-1][2:4]
    assert store.list_messages(partner_id="a").total == 2


def test_unfinished_lists_non_terminal_inbound(store):
    a, _ = new(store, key="a")
    b, _ = new(store, key="b")
    store.update(b.id, status=MessageStatus.acked, event="message.acked")
    assert [m.id for m in store.unfinished()] == [a.id]


def test_lineage_round_trip_and_replace(store):
    m, _ = new(store, key="l")
    tree = [
        InterchangeRecord(
            "ZZ",
            "SENDER",
            "ZZ",
            "RECEIVER",
            "000000091",
            "00401",
            "P",
            "091225",
            "1943",
            [GroupRecord("SH", "SENDER", "RECEIVER", "91", "004010", [SetRecord("856", "0001", 57)])],
        )
    ]
    store.replace_lineage(m.id, tree)
    store.replace_lineage(m.id, tree)  # a reprocess replaces, never duplicates
    lin = store.lineage(m.id)
    assert [i.control_number for i in lin.interchanges] == ["000000091"]
    assert [(t.set_id, t.control_number, t.segment_count) for t in lin.transactions] == [("856", "0001", 57)]


def test_ack_links(store):
    m, _ = new(store, key="in")
    ack, _ = new(store, key="out", direction=Direction.outbound, status=MessageStatus.sent)
    store.link_ack(message_id=m.id, ack_message_id=ack.id, kind="997", result="A")
    store.link_ack(message_id=m.id, ack_message_id=ack.id, kind="997", result="A")  # idempotent
    assert [(a.kind, a.result) for a in store.acks_of(m.id)] == [("997", "A")]
    assert [a.message_id for a in store.acked_by(ack.id)] == [m.id]


def test_missing_message_is_not_found(store):
    with pytest.raises(NotFoundError):
        store.get(999999)


def test_control_numbers_are_unique_under_concurrency(store):
    taken: list[int] = []
    lock = threading.Lock()

    def work():
        for _ in range(25):
            n = store.next_control_number("acme", "interchange")
            with lock:
                taken.append(n)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == list(range(1, 101))
    assert store.next_control_number("other", "interchange") == 1


def test_control_numbers_reserved_for_a_batch_follow_the_one_by_one_sequence_and_wrap(store):
    from sqlalchemy import update

    from gateway.store.models import ControlCounter
    from gateway.store.repository import MAX_CONTROL_NUMBER

    got = store.reserve_control_numbers({("acme", "interchange"): 3, ("acme", "group"): 2})  # counters new
    assert got == {("acme", "interchange"): [1, 2, 3], ("acme", "group"): [1, 2]}
    assert store.next_control_number("acme", "interchange") == 4
    assert store.reserve_control_numbers({("acme", "interchange"): 2}) == {("acme", "interchange"): [5, 6]}
    tbl = ControlCounter.__table__
    with store.engine.begin() as c:  # two before the end of the range: the batch wraps to 1 as one by one would
        c.execute(update(tbl).where(tbl.c.scope == "acme", tbl.c.kind == "group").values(value=MAX_CONTROL_NUMBER - 2))
    assert store.reserve_control_numbers({("acme", "group"): 4})[("acme", "group")] == [
        MAX_CONTROL_NUMBER - 1, MAX_CONTROL_NUMBER, 1, 2]
    assert store.next_control_number("acme", "group") == 3
