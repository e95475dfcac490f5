"""Broker intake on two nodes: both consume the same RabbitMQ queue (competing consumers); each published message,
even published twice, becomes one document, built once and sent once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.handoff.conftest import write_handoff
from tests.handoff.test_intake import HEADERS, intake_config, intake_queue, ship  # noqa: F401 - the fixture
from tests.support.gateway_home import wait_for

pytestmark = pytest.mark.postgres
N = 30


def test_two_nodes_consuming_one_intake_queue_send_each_document_once(make_node, shared_home, intake_queue):  # noqa: F811
    q = intake_queue
    write_handoff(shared_home, intake_config(q))
    a, b = make_node("node-a", handoff_sweep_seconds=0.5), make_node("node-b", handoff_sweep_seconds=0.5)
    a.start()
    b.start()
    wait_for(lambda: q.counts()[1] == 2, timeout=30)  # both consumers are up
    batch = [(ship(n), HEADERS, f"ship-{n}", "application/json") for n in range(N)]
    q.publish_many(batch + batch[: N // 2])  # half of them published twice (a publisher retrying)
    outbox = shared_home / "var" / "channels" / "acme-retail" / "outbound"

    def sent() -> list[tuple] | None:
        with a.engine.connect() as c:
            rows = c.execute(sa.text("SELECT id, status FROM message WHERE direction = 'outbound' "
                                     "AND idempotency_key LIKE 'submit:acme-retail:amqp:%'")).all()
        return rows if len(rows) == N and all(r.status == "sent" for r in rows) else None

    rows = wait_for(sent, timeout=120, interval=0.5)
    wait_for(lambda: q.counts()[0] == 0, timeout=30)

    def acked() -> list[int] | None:  # none ready does not mean all acknowledged: some may still be in flight
        counts = [s["acked"] for gw in (a, b) for s in gw.intake.status()]
        return counts if sum(counts) >= N + N // 2 else None

    counts = wait_for(acked, timeout=30, interval=0.2)
    assert sum(counts) == N + N // 2 and all(counts)  # both nodes took messages; every delivery acknowledged once
    with a.engine.connect() as c:
        built = c.execute(sa.text("SELECT message_id, count(*) FROM event WHERE name = 'document.built' "
                                  "GROUP BY message_id")).all()
    assert sorted(built) == sorted((r.id, 1) for r in rows)
    assert len([p for p in outbox.glob("*.x12")]) == N
