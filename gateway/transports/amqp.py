"""AMQP 0-9-1 (RabbitMQ) connections with pika's blocking adapter, shared by publishers and (later) consumers.

:class:`AmqpLink` owns one connection and one channel in confirm mode, opened lazily and reopened after a failure;
it declares what it is told to (durable exchanges and queues, a queue's dead-letter exchange), and translates pika's
exceptions once, here: refused credentials and access are :class:`~gateway.errors.AuthenticationError`
(permanent); a refused, cut or timed-out connection, a closed channel, a broker nack and an unroutable mandatory
message are transient. A pika connection is not thread-safe: one link per thread (the hand-off sweep owns its own).

A consumer (the broker intake, gateway/transports/amqp_consumer.py) takes :meth:`AmqpLink.channel` (confirms
on, for its dead-letter publishes), sets ``basic_qos`` and acknowledges each delivery only after its record is
archived and recorded (see docs/handoff.md, "Intake from the broker").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pika
import pika.exceptions as pex
from pika.adapters.blocking_connection import BlockingChannel

from gateway.errors import AuthenticationError, TransientTransportError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AmqpSettings:
    host: str = "127.0.0.1"
    port: int = 5672
    virtual_host: str = "/"
    username: str = "guest"
    password: str = field(default="guest", repr=False)
    timeout_seconds: float = 10.0
    heartbeat_seconds: int = 30

    def parameters(self) -> pika.ConnectionParameters:
        t = self.timeout_seconds
        return pika.ConnectionParameters(
            host=self.host,
            port=self.port,
            virtual_host=self.virtual_host,
            credentials=pika.PlainCredentials(self.username, self.password),
            connection_attempts=1,
            socket_timeout=t,
            stack_timeout=t,
            blocked_connection_timeout=t,
            heartbeat=self.heartbeat_seconds,
            client_properties={"connection_name": "edi-gateway"},
        )

    @property
    def where(self) -> str:
        return f"amqp://{self.host}:{self.port}{self.virtual_host if self.virtual_host.startswith('/') else '/'}"


@contextmanager
def translated(what: str) -> Iterator[None]:
    """pika's exceptions as the gateway's (transient unless credentials or permissions are refused)."""
    try:
        yield
    except (pex.ProbableAuthenticationError, pex.ProbableAccessDeniedError, pex.AuthenticationError) as exc:
        raise AuthenticationError(
            f"{what}: the broker refused our credentials or access", hint="check username, password and vhost"
        ) from exc
    except pex.UnroutableError as exc:
        raise TransientTransportError(
            f"{what}: the broker returned the message as unroutable (no queue is bound for its routing key)",
            hint="bind a queue to the exchange for this routing key (or set the destination's queue)",
        ) from exc
    except pex.NackError as exc:
        raise TransientTransportError(f"{what}: the broker refused the message (nack)") from exc
    except (pex.AMQPError, OSError) as exc:
        raise TransientTransportError(f"{what}: {type(exc).__name__}: {exc or 'connection lost'}") from exc


class AmqpLink:
    def __init__(self, settings: AmqpSettings, *, confirm: bool = True,
                 setup: Callable[[BlockingChannel], None] | None = None) -> None:
        self.settings = settings
        self.confirm = confirm
        self.setup = setup  # declarations to run on every new channel
        self._conn: pika.BlockingConnection | None = None
        self._chan: BlockingChannel | None = None
        self._used = 0.0  # monotonic time of the last successful operation

    @property
    def open(self) -> bool:
        return self._chan is not None and self._chan.is_open and self._conn is not None and self._conn.is_open

    def channel(self) -> BlockingChannel:
        if self.open:
            assert self._chan is not None
            return self._chan
        self.close()
        with translated(f"connecting to {self.settings.where}"):
            self._conn = pika.BlockingConnection(self.settings.parameters())
            chan = self._conn.channel()
            if self.confirm:
                chan.confirm_delivery()
            if self.setup is not None:
                self.setup(chan)
            self._chan = chan
        return chan

    def run(self, what: str, op: Callable[[BlockingChannel], T]) -> T:
        """Run ``op`` on the channel. A connection that was already open and turns out dead (idle too long, broker
        restarted) is reopened and ``op`` tried once more; a fresh connection's failure is reported."""
        fresh = not self.open
        chan = self.channel()
        try:
            with translated(what):
                idle = time.monotonic() - self._used > 1.0
                if not fresh and idle and self._conn is not None:
                    self._conn.process_data_events(0)  # notice a connection that died while idle
                result = op(chan)
                self._used = time.monotonic()
                return result
        except TransientTransportError:
            self.close()
            if fresh:
                raise
        chan = self.channel()
        try:
            with translated(what):
                result = op(chan)
                self._used = time.monotonic()
                return result
        except TransientTransportError:
            self.close()
            raise

    def pump(self, seconds: float) -> None:
        """Let pika do its I/O (heartbeats, incoming deliveries) for up to ``seconds``: a consumer calls this while
        a delivery is being worked on in another thread, so a long submission does not miss heartbeats."""
        if self._conn is not None:
            with translated(f"talking to {self.settings.where}"):
                self._conn.process_data_events(time_limit=seconds)

    def wake(self) -> None:
        """Make a :meth:`pump` in progress return now (safe from any thread)."""
        conn = self._conn
        if conn is not None and conn.is_open:
            try:
                conn.add_callback_threadsafe(lambda: None)
            except (pex.AMQPError, OSError, RuntimeError):
                pass  # closing: the pump ends anyway

    def close(self) -> None:
        conn, self._conn, self._chan = self._conn, None, None
        if conn is not None and conn.is_open:
            try:
                conn.close()
            except (pex.AMQPError, OSError):
                pass  # already gone


def declare_exchange(chan: BlockingChannel, name: str, kind: str = "topic") -> None:
    if name:
        chan.exchange_declare(exchange=name, exchange_type=kind, durable=True)


def declare_queue(chan: BlockingChannel, name: str, *, arguments: dict[str, Any] | None = None) -> None:
    chan.queue_declare(queue=name, durable=True, arguments=arguments)
