"""The RabbitMQ broker for tests (127.0.0.1:5672, guest/guest, here and in CI): reachability, a scratch queue bound
to a scratch exchange, and draining it."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pika

HOST, PORT = "127.0.0.1", 5672


def reachable() -> str | None:
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return None
    except OSError as exc:
        return f"RabbitMQ is not reachable at {HOST}:{PORT} ({exc.strerror or exc})"


@dataclass
class Scratch:
    exchange: str
    queue: str

    def drain(self, timeout: float = 2.0) -> list[tuple[pika.BasicProperties, bytes]]:
        """Every message in the queue (acknowledged: the queue is empty afterwards)."""
        conn = pika.BlockingConnection(pika.ConnectionParameters(HOST, PORT))
        out = []
        try:
            ch = conn.channel()
            for _method, props, body in ch.consume(self.queue, inactivity_timeout=timeout, auto_ack=True):
                if body is None:
                    break
                out.append((props, body))
            ch.cancel()
        finally:
            conn.close()
        return out

    def count(self) -> int:
        conn = pika.BlockingConnection(pika.ConnectionParameters(HOST, PORT))
        try:
            return int(conn.channel().queue_declare(self.queue, passive=True).method.message_count)
        finally:
            conn.close()


@contextmanager
def scratch(binding: str = "#") -> Iterator[Scratch]:
    """A durable topic exchange and a queue bound to it, both deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    s = Scratch(exchange=f"test-handoff-{tag}", queue=f"test-handoff-{tag}")
    conn = pika.BlockingConnection(pika.ConnectionParameters(HOST, PORT))
    try:
        ch = conn.channel()
        ch.exchange_declare(s.exchange, "topic", durable=True)
        ch.queue_declare(s.queue, durable=True)
        ch.queue_bind(s.queue, s.exchange, binding)
    finally:
        conn.close()  # not kept open: an idle blocking connection misses heartbeats during a long test
    try:
        yield s
    finally:
        conn = pika.BlockingConnection(pika.ConnectionParameters(HOST, PORT))
        try:
            ch = conn.channel()
            ch.queue_delete(s.queue)
            ch.exchange_delete(s.exchange)
        finally:
            conn.close()
