"""Two gateway nodes sharing one PostgreSQL store (and, for contrast, SQLite): their sweeps run at the same time
over the same outbox and every event is delivered exactly once, in order per partner."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import yaml
from sqlalchemy import select

from gateway.flows.handoff import HandoffFlow
from gateway.handoff.events import iter_record_events
from gateway.store.archive import Archive
from gateway.store.models import Event, Handoff
from tests.handoff.test_outbox import message

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_two_nodes_deliver_each_event_once_in_order_per_partner(store, tmp_path):
    cfg = tmp_path / "handoff.yaml"
    cfg.write_text(yaml.safe_dump({
        "destinations": [{"name": "drop", "type": "folder", "path": str(tmp_path / "out"), "batch": 7}],
        "routes": [{"to": ["drop"]}],
    }))
    nodes = [
        HandoffFlow(store=store, archive=Archive(tmp_path / "archive"), config_file=cfg, data_dir=tmp_path,
                    secrets_dir=None, clock=lambda: datetime.now(UTC))
        for _ in range(2)
    ]
    expected = []
    for n in range(60):
        partner = ("acme", "harbor", "alink")[n % 3]
        mid = message(store, partner, n)
        event = next(iter_record_events(message_id=mid, partner=partner, set_ids=["940"], keys_of=lambda d: [],
                                        documents=[{"type": "order", "order_number": str(n)}], occurred_at=T0))
        assert nodes[0].outbox.release(mid, [(event, [("drop", "folder")])], now=T0)
        expected.append(event.event_id)
    done = [0, 0]

    def run(i: int) -> None:
        while sum(done) < len(expected):
            done[i] += nodes[i].sweep()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(done) == len(expected)
    assert sorted(p.stem for p in (tmp_path / "out").glob("*.json")) == sorted(expected)
    with store.session() as s:
        delivered = s.exec(select(Event).where(Event.name == "handoff.delivered").order_by(Event.id)).scalars().all()
    ids = [e.detail["event_id"] for e in delivered]
    assert sorted(ids) == sorted(expected)  # each once
    for partner in ("acme", "harbor", "alink"):
        mids = [e.message_id for e in delivered if store.get(e.message_id).partner_id == partner]
        assert mids == sorted(mids), partner
    for node in nodes:
        node.close()


def test_a_node_starting_frees_only_the_leases_of_nodes_not_running(store, tmp_path):
    cfg = tmp_path / "handoff.yaml"
    cfg.write_text(yaml.safe_dump({
        "destinations": [{"name": "drop", "type": "folder", "path": str(tmp_path / "out")}],
        "routes": [{"to": ["drop"]}],
    }))
    flow = HandoffFlow(store=store, archive=Archive(tmp_path / "archive"), config_file=cfg, data_dir=tmp_path,
                       secrets_dir=None, clock=lambda: datetime.now(UTC))
    now = datetime.now(UTC)
    for n, partner in enumerate(("acme", "harbor", "alink")):
        mid = message(store, partner, n)
        event = next(iter_record_events(message_id=mid, partner=partner, set_ids=["940"], keys_of=lambda d: [],
                                        documents=[{"type": "order", "order_number": "1"}], occurred_at=T0))
        assert flow.outbox.release(mid, [(event, [("drop", "folder")])], now=now)
    lanes = flow.outbox.claim(owner="live-node", now=now, lease=timedelta(minutes=5), destinations=["drop"])
    rows = sorted(r.id for rows in lanes.values() for r in rows)
    assert len(rows) == 3
    dead = rows[:1]  # one row's owner died
    with store.engine.begin() as conn:
        conn.execute(Handoff.__table__.update().where(Handoff.__table__.c.id.in_(dead)).values(lease_owner="dead"))
    flow.recover(live=["live-node"])  # a node starting next to "live-node"
    with store.engine.connect() as conn:
        owners = dict(conn.execute(select(Handoff.__table__.c.id, Handoff.__table__.c.lease_owner)).all())
    assert owners == {rows[0]: None, rows[1]: "live-node", rows[2]: "live-node"}
