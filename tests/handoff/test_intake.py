"""Intake from the broker against the real RabbitMQ: canonical shipments published to the intake queue become
documents delivered to the partner; what cannot be used is dead-lettered with the reason in its headers; a kill -9
between the submit and the ack redelivers and the idempotency key answers with the same document; a broker that
goes away is reconnected while the API keeps answering; SIGTERM still stops the gateway quickly."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pika
import pytest

from gateway.handoff.config import check_source
from tests.handoff.conftest import start_gateway, write_handoff
from tests.outbound.conftest import shipment
from tests.support import rabbitmq
from tests.support.gateway_home import wait_for
from tests.support.serve import ServeProcess
from tests.support.services import unavailable
from tests.support.tcp_proxy import TcpProxy

ENV = {"GATEWAY_HANDOFF_SWEEP_SECONDS": "0.5"}


@dataclass
class IntakeQueue:
    queue: str

    @property
    def dead(self) -> str:
        return f"{self.queue}.dead"

    def publish(self, body: bytes, *, headers: dict | None = None, message_id: str | None = None,
                content_type: str | None = "application/json") -> None:
        self.publish_many([(body, headers, message_id, content_type)])

    def publish_many(self, items: list[tuple[bytes, dict | None, str | None, str | None]]) -> None:
        conn = pika.BlockingConnection(pika.ConnectionParameters(rabbitmq.HOST, rabbitmq.PORT))
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            for body, headers, message_id, content_type in items:
                ch.basic_publish("", self.queue, body, mandatory=True, properties=pika.BasicProperties(
                    headers=headers, message_id=message_id, content_type=content_type, delivery_mode=2))
        finally:
            conn.close()

    def counts(self, queue: str | None = None) -> tuple[int, int]:
        """(ready messages, consumers) of the queue."""
        conn = pika.BlockingConnection(pika.ConnectionParameters(rabbitmq.HOST, rabbitmq.PORT))
        try:
            m = conn.channel().queue_declare(queue or self.queue, passive=True).method
            return int(m.message_count), int(m.consumer_count)
        except pika.exceptions.ChannelClosedByBroker:
            return -1, 0  # not declared yet
        finally:
            conn.close()

    def drain_dead(self) -> list[tuple[pika.BasicProperties, bytes]]:
        return rabbitmq.Scratch(exchange="", queue=self.dead).drain()


@pytest.fixture
def intake_queue() -> Iterator[IntakeQueue]:
    reason = rabbitmq.reachable()
    if reason:
        unavailable(reason)
    q = IntakeQueue(f"test-intake-{uuid.uuid4().hex[:10]}")
    yield q
    conn = pika.BlockingConnection(pika.ConnectionParameters(rabbitmq.HOST, rabbitmq.PORT))
    try:
        ch = conn.channel()
        ch.queue_delete(q.queue)
        ch.queue_delete(q.dead)
        ch.exchange_delete(q.dead)
    finally:
        conn.close()


def intake_config(q: IntakeQueue, port: int = rabbitmq.PORT, **extra: object) -> dict:
    return {"destinations": [{"name": "inbox", "type": "pull"}], "routes": [{"to": ["inbox"]}],
            "intake": [{"name": "wms", "type": "rabbitmq", "port": port, "queue": q.queue, "prefetch": 20,
                        "timeout": "3s", "reconnect": {"backoff": "0.2s", "max_backoff": "1s"}, **extra}]}


def declare(q: IntakeQueue) -> None:
    """The queue as the gateway declares it (so a test can publish before the gateway first connects)."""
    conn = pika.BlockingConnection(pika.ConnectionParameters(rabbitmq.HOST, rabbitmq.PORT))
    try:
        ch = conn.channel()
        ch.exchange_declare(q.dead, "direct", durable=True)
        ch.queue_declare(q.dead, durable=True)
        ch.queue_bind(q.dead, q.dead, routing_key=q.queue)
        ch.queue_declare(q.queue, durable=True, arguments={
            "x-dead-letter-exchange": q.dead, "x-dead-letter-routing-key": q.queue})
    finally:
        conn.close()


def ship(n: int) -> bytes:
    return json.dumps(shipment(shipment_id=f"BOL{n:05d}", order_number=f"ORD{n:05d}")).encode()


HEADERS = {"partner": "acme-retail", "set_id": "945"}


def outbound_files(home: Path) -> list[Path]:
    folder = home / "var" / "channels" / "acme-retail" / "outbound"
    return sorted(p for p in folder.glob("*.x12")) if folder.is_dir() else []


def outbound_rows(home: Path) -> list[tuple]:
    conn = sqlite3.connect(f"file:{home / 'var' / 'gateway.db'}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT id, status, validation_status, delivery_status, idempotency_key FROM message "
                            "WHERE direction = 'outbound' AND idempotency_key LIKE 'submit:acme-retail:amqp:%' "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()


def test_intake_section_is_validated_with_file_and_line(tmp_path):
    path = tmp_path / "handoff.yaml"
    path.write_text("intake:\n  - name: wms\n    type: rabbitmq\n    queue: q\n    prefetch: 0\n"
                    "  - {name: wms, type: rabbitmq, queue: q2, password: hunter2}\n"
                    "  - {name: other, type: rabbitmq, queue: q3, prefech: 5}\n")
    text = "\n".join(check_source(path))
    assert f"{path}:5: intake[0].prefetch:" in text
    assert f"{path}:6: intake[1].password:" in text and "literal secret" in text
    assert f"{path}:7:" in text and "prefech" in text
    path.write_text("intake:\n  - {name: a, type: rabbitmq, queue: q}\n  - {name: a, type: rabbitmq, queue: r}\n")
    assert any("two intakes are named 'a'" in p for p in check_source(path))


def test_hundred_shipments_are_delivered_and_the_malformed_are_dead_lettered(home, intake_queue):
    q = intake_queue
    write_handoff(home, intake_config(q))
    gw = start_gateway(home)
    try:
        wait_for(lambda: q.counts()[1] == 1, timeout=20)  # the consumer is up (it declared the queue)
        q.publish_many([(ship(n), HEADERS, f"ship-{n}", "application/json") for n in range(1, 101)])
        q.publish(b'{"type": "shipment", "shipment_id": ', headers=HEADERS, message_id="broken")  # bad JSON
        q.publish(ship(900), headers={"set_id": "945", "trace": "t-1"}, message_id="nopartner")
        q.publish(ship(901), headers={**HEADERS, "partner": "nobody"}, message_id="unknown")
        q.publish(json.dumps({**shipment(), "ship_date": "someday"}).encode(), headers=HEADERS, message_id="schema")
        q.publish(json.dumps({"type": "shipment"}).encode(), headers=HEADERS, message_id="refused")  # X12 invalid
        q.publish(ship(1), headers=HEADERS, message_id="ship-1")  # a repeat: the same document, nothing sent
        wait_for(lambda: len(outbound_files(home)) >= 100, timeout=180, interval=0.5)
        wait_for(lambda: q.counts() == (0, 1), timeout=30)
        wait_for(lambda: q.counts(q.dead)[0] >= 5, timeout=30)
        wait_for(lambda: gw.intake.status()[0]["acked"] >= 101, timeout=30)
        status = gw.intake.status()[0]
        time.sleep(1.0)
    finally:
        gw.stop()
    assert q.counts() == (0, 0), "the queue is empty and nothing is left unacknowledged"
    files = outbound_files(home)
    assert len(files) == 100
    texts = "".join(f.read_text() for f in files)
    assert all(f"BOL{n:05d}" in texts for n in range(1, 101))
    rows = outbound_rows(home)
    delivered = [r for r in rows if r[3] == "delivered"]
    assert len(delivered) == 100 and {r[4] for r in delivered} == {f"submit:acme-retail:amqp:ship-{n}"
                                                                   for n in range(1, 101)}
    assert status["acked"] == 101 and status["dead_lettered"] == 5
    dead = {p.message_id: p for p, _b in q.drain_dead()}
    assert set(dead) == {"broken", "nopartner", "unknown", "schema", "refused"}
    kinds = {k: p.headers["x-gateway-error-kind"] for k, p in dead.items()}
    assert kinds == {"broken": "unreadable", "nopartner": "no_partner", "unknown": "unknown_partner",
                     "schema": "schema", "refused": "invalid"}
    assert "not valid JSON" in dead["broken"].headers["x-gateway-error"]
    assert "'partner' header" in dead["nopartner"].headers["x-gateway-error"]
    assert dead["nopartner"].headers["trace"] == "t-1" and dead["nopartner"].headers["set_id"] == "945"
    assert "nobody" in dead["unknown"].headers["x-gateway-error"]
    assert "ship_date" in dead["schema"].headers["x-gateway-error"]
    assert "N1" in dead["refused"].headers["x-gateway-error"] or "W06" in dead["refused"].headers["x-gateway-error"]
    failed = {r[0] for r in rows if r[2] == "invalid"}
    assert int(dead["broken"].headers["x-gateway-message-id"]) in failed  # archived and recorded, with its reason


def test_a_handler_defect_is_retried_once_then_dead_lettered(home, intake_queue):
    q = intake_queue
    write_handoff(home, intake_config(q))
    gw = start_gateway(home, failpoints="intake.before_submit=raise")
    try:
        wait_for(lambda: q.counts()[1] == 1, timeout=20)
        q.publish(ship(7), headers=HEADERS, message_id="poison")
        wait_for(lambda: q.counts(q.dead)[0] == 1, timeout=30)
        assert q.counts()[0] == 0
    finally:
        gw.stop()
    (props, _body), = q.drain_dead()
    assert props.headers["x-gateway-error-kind"] == "internal" and "twice" in props.headers["x-gateway-error"]


def test_kill_between_submit_and_ack_answers_the_redelivery_with_the_same_document(home, intake_queue):
    q = intake_queue
    write_handoff(home, intake_config(q))
    declare(q)
    q.publish_many([(ship(n), HEADERS, f"k-{n}", "application/json") for n in range(1, 4)])
    first = ServeProcess(home, env={**ENV, "GATEWAY_FAILPOINTS": "intake.before_ack=kill"})
    try:
        assert first.wait_exit(timeout=60) == -signal.SIGKILL, first.output()
    finally:
        first.stop()
    assert len(outbound_rows(home)) == 1  # submitted (archived, recorded, built), never acknowledged
    second = ServeProcess(home, env=ENV)
    try:
        second.wait_healthy(timeout=60)
        wait_for(lambda: len(outbound_files(home)) >= 3 and q.counts()[0] == 0, timeout=60, interval=0.3)
        time.sleep(1.5)
    finally:
        second.stop()
    rows = outbound_rows(home)
    assert len(rows) == 3 and all(r[3] == "delivered" for r in rows), rows
    assert len(outbound_files(home)) == 3  # the redelivered message was not sent a second time
    assert q.counts() == (0, 0) and q.counts(q.dead)[0] == 0


def test_broker_going_away_is_reconnected_without_blocking_the_api(home, intake_queue):
    q = intake_queue
    proxy = TcpProxy("127.0.0.1", rabbitmq.PORT)
    write_handoff(home, intake_config(q, port=proxy.port))
    gw = ServeProcess(home, env=ENV)
    try:
        gw.wait_healthy(timeout=60)
        wait_for(lambda: q.counts()[1] == 1, timeout=20)
        q.publish_many([(ship(n), HEADERS, f"r-{n}", "application/json") for n in range(1, 6)])
        wait_for(lambda: len(outbound_files(home)) >= 5, timeout=60, interval=0.3)
        proxy.cut()
        q.publish_many([(ship(n), HEADERS, f"r-{n}", "application/json") for n in range(6, 11)])
        started = time.monotonic()
        for _ in range(5):  # the API answers while the consumer cannot reach the broker
            assert httpx.get(f"{gw.url}/api/health", timeout=2).status_code == 200
        assert time.monotonic() - started < 5
        time.sleep(2)
        assert len(outbound_files(home)) == 5
        proxy.restore()
        wait_for(lambda: len(outbound_files(home)) >= 10, timeout=60, interval=0.3)
        wait_for(lambda: q.counts() == (0, 1), timeout=30)
        stopping = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        gw.proc.wait(timeout=10)
        assert time.monotonic() - stopping < 10
    finally:
        gw.stop()
        proxy.close()
    assert proxy.connections >= 2
    assert len(outbound_files(home)) == 10 and len(outbound_rows(home)) == 10


def test_sigterm_stops_within_ten_seconds_while_the_broker_is_unreachable(home, intake_queue):
    proxy = TcpProxy("127.0.0.1", rabbitmq.PORT)
    proxy.cut()
    write_handoff(home, intake_config(intake_queue, port=proxy.port))
    gw = ServeProcess(home, env=ENV)
    try:
        gw.wait_healthy(timeout=60)
        time.sleep(2)  # the consumer is in its reconnect loop
        stopping = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        gw.proc.wait(timeout=10)
        assert time.monotonic() - stopping < 10
    finally:
        gw.stop()
        proxy.close()
