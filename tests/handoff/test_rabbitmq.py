"""RabbitMQ destination against the real broker: 1,000 inbound 940s reach the queue as exactly 1,000 distinct event
ids although the broker connection is cut in the middle (a TCP proxy the test controls) and the gateway is killed
(SIGKILL) once; a crash right after a publish republishes with the same event id; a CSV order reaches the queue."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from tests.handoff.conftest import SAMPLE_CSV, start_gateway, write_940s, write_handoff
from tests.support import rabbitmq
from tests.support.gateway_home import drop, wait_for
from tests.support.serve import ServeProcess
from tests.support.tcp_proxy import TcpProxy

ENV = {"GATEWAY_HANDOFF_SWEEP_SECONDS": "0.5", "GATEWAY_FOLDER__MIN_AGE_SECONDS": "0.2"}


def rabbit_destination(broker: rabbitmq.Scratch, port: int = rabbitmq.PORT) -> dict:
    return {
        "destinations": [{
            "name": "bus", "type": "rabbitmq", "host": "127.0.0.1", "port": port, "exchange": broker.exchange,
            "timeout": "3s", "retry": {"attempts": 1000, "backoff": "1s", "multiplier": 1.0, "max_backoff": "1s"},
        }],
        "routes": [{"to": ["bus"]}],
    }


def handoff_counts(home) -> dict[str, int]:
    db = home / "var" / "gateway.db"
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM handoff GROUP BY status").fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()


@pytest.mark.slow
def test_thousand_940s_survive_a_broker_cut_and_a_kill(home, broker):
    total = 1000
    proxy = TcpProxy("127.0.0.1", rabbitmq.PORT)
    write_handoff(home, rabbit_destination(broker, proxy.port))
    inbox = home / "var" / "channels" / "acme-retail" / "inbound"
    write_940s(inbox, total)
    first = ServeProcess(home, env=ENV)
    try:
        first.wait_healthy(timeout=30)
        wait_for(lambda: broker.count() >= 150, timeout=180, interval=0.2)
        proxy.cut()  # the broker connection drops in the middle of the run
        time.sleep(3)
        proxy.restore()
        wait_for(lambda: broker.count() >= 450, timeout=180, interval=0.2)
        first.proc.kill()  # SIGKILL: no clean-up at all
        first.proc.wait(timeout=10)
    finally:
        first.stop()
    assert broker.count() < total, "the kill came too late to test anything"
    second = ServeProcess(home, env=ENV)
    try:
        second.wait_healthy(timeout=30)
        wait_for(lambda: handoff_counts(home).get("delivered", 0) >= total, timeout=300, interval=0.5)
        time.sleep(1.5)
    finally:
        second.stop()
        proxy.close()
    messages = broker.drain()
    ids = [p.message_id for p, _ in messages]
    bodies = [json.loads(b) for _, b in messages]
    assert len(set(ids)) == total, (len(set(ids)), len(ids))
    pairs = zip(messages, bodies, strict=True)
    assert all(b["event_id"] == p.message_id and b["type"] == "order.received" for (p, _), b in pairs)
    assert {b["record"]["order_number"] for b in bodies} == {f"ORD{n:06d}" for n in range(1, total + 1)}
    assert all(p.delivery_mode == 2 for p, _ in messages)  # persistent
    assert len(ids) - len(set(ids)) < 200  # repeats (same ids) only around the kill and the cut
    assert handoff_counts(home) == {"delivered": total}
    assert proxy.connections >= 2  # reconnected after the cut
    assert not [p for p in inbox.iterdir() if p.is_file()], "every file was committed"


@pytest.mark.parametrize("point", ["handoff.after_publish", "handoff.after_release", "handoff.before_release"])
def test_crash_at_each_handoff_fail_point_delivers_with_the_same_event_id(home, broker, point):
    write_handoff(home, rabbit_destination(broker))
    inbox = home / "var" / "channels" / "acme-retail" / "inbound"
    write_940s(inbox, 3)
    first = ServeProcess(home, env={**ENV, "GATEWAY_FAILPOINTS": f"{point}=exit"})
    try:
        assert first.wait_exit(timeout=60) == 77, first.output()
    finally:
        first.stop()
    second = ServeProcess(home, env=ENV)
    try:
        second.wait_healthy(timeout=30)
        wait_for(lambda: handoff_counts(home).get("delivered", 0) >= 3, timeout=60, interval=0.3)
    finally:
        second.stop()
    ids = [p.message_id for p, _ in broker.drain()]
    conn = sqlite3.connect(home / "var" / "gateway.db")
    inbound = [r[0] for r in conn.execute("SELECT id FROM message WHERE direction = 'inbound' ORDER BY id")]
    conn.close()
    assert len(inbound) == 3
    assert sorted(set(ids)) == sorted(f"{m}-1" for m in inbound), ids
    assert handoff_counts(home) == {"delivered": 3}


def test_csv_order_reaches_the_queue_as_a_canonical_order(home, broker):
    write_handoff(home, rabbit_destination(broker))
    gw = start_gateway(home)
    try:
        drop(SAMPLE_CSV, gw.settings.data_path / "channels" / "coastal-grocers" / "inbound")
        wait_for(lambda: broker.count() >= 2, timeout=30, interval=0.2)
    finally:
        gw.stop()
    messages = broker.drain()
    assert len(messages) == 2
    props, body = messages[0]
    event = json.loads(body)
    assert props.type == "order.received" and props.content_type == "application/json"
    assert event["record"]["type"] == "order" and event["record"]["order_number"] == "18061923"
    assert event["partner"] == "coastal-grocers" and props.headers["x-record-type"] == "order"
