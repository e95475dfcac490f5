"""Consuming one RabbitMQ queue in its own thread: at-least-once, acknowledged only after the handler said so.

:class:`QueueConsumer` connects (through :class:`~gateway.transports.amqp.AmqpLink`), declares the queue and its
dead-letter exchange and queue when told to, sets ``basic_qos(prefetch)`` and hands each delivery to a handler
``(Delivery) -> Verdict``, one at a time, in a worker thread (the consumer thread keeps pika's heartbeats going
meanwhile, so a long submission does not lose the connection). The verdict decides:

- ``ack``: :meth:`basic_ack` (fail point ``intake.before_ack`` just before it), then the verdict's ``after``
  (the document's delivery) runs;
- ``dead``: a copy of the message (body and properties unchanged, original headers kept) is published to the
  dead-letter exchange with ``x-gateway-error`` (what, where, what to do), ``x-gateway-error-kind`` and the
  verdict's extra headers, with a publisher confirm; only then is the original acked (fail point
  ``intake.after_dead_letter`` between the two: a crash there dead-letters it twice, never loses it);
- ``retry``: nothing of the message is used (the store is down): the connection is closed, so every unacked
  message goes back to the queue, and the consumer reconnects after its backoff.

A handler that raises (a defect) is a ``retry`` the first time and ``dead`` (kind ``internal``) on a redelivery:
no message is requeued forever. A broker that goes away (refused, cut, restarted) is reconnected with an
exponential backoff; :meth:`stop` returns within its timeout whatever the broker does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pika
import pika.exceptions as pex
from pika.adapters.blocking_connection import BlockingChannel

from gateway.errors import ConfigError, GatewayError, TransientTransportError
from gateway.failpoints import FailPoints
from gateway.logging import get_logger
from gateway.transports.amqp import AmqpLink, AmqpSettings, translated

log = get_logger(__name__)
POLL_SECONDS = 0.5  # how often a quiet consumer checks whether it should stop
HEADER_LIMIT = 2000  # characters of an error kept in x-gateway-error


@dataclass(frozen=True, slots=True)
class Delivery:
    tag: int
    redelivered: bool
    exchange: str
    routing_key: str
    properties: pika.BasicProperties
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        """A header as text (pika gives long strings as str or bytes); None when absent or empty."""
        value = (self.properties.headers or {}).get(name)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if value is None or value == "":
            return None
        return str(value)


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Literal["ack", "dead", "retry"]
    reason: str = ""
    kind: str = ""
    headers: dict[str, Any] = field(default_factory=dict)
    after: Callable[[], object] | None = None

    @classmethod
    def ack(cls, after: Callable[[], object] | None = None, **headers: Any) -> Verdict:
        return cls("ack", after=after, headers=headers)

    @classmethod
    def dead(cls, kind: str, reason: str, **headers: Any) -> Verdict:
        return cls("dead", reason=reason, kind=kind, headers=headers)

    @classmethod
    def retry(cls, reason: str) -> Verdict:
        return cls("retry", reason=reason)


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    queue: str
    dead_letter_exchange: str
    dead_letter_queue: str
    declare: bool = True
    prefetch: int = 10
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0


@dataclass
class ConsumerStatus:
    connected: bool = False
    connections: int = 0
    acked: int = 0
    dead_lettered: int = 0
    requeued: int = 0
    last_error: str | None = None


class _Requeue(Exception):
    """Close the connection so the broker requeues what we hold; reconnect after the backoff."""


class QueueConsumer:
    def __init__(self, name: str, settings: AmqpSettings, options: ConsumerOptions,
                 handle: Callable[[Delivery], Verdict], *, failpoints: FailPoints | None = None) -> None:
        self.name = name
        self.settings = settings
        self.options = options
        self.handle = handle
        self.failpoints = failpoints or FailPoints()
        self.status = ConsumerStatus()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._link: AmqpLink | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"intake:{self.name}", daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def stop(self, timeout: float = 5.0) -> bool:
        self.signal_stop()
        return self.join(timeout)

    # -- the loop -----------------------------------------------------------------------------------------------
    def _run(self) -> None:
        o = self.options
        delay = o.backoff_seconds
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"intake-work:{self.name}") as work:
            while not self._stopping.is_set():
                try:
                    if self._consume(work):
                        delay = o.backoff_seconds  # the connection worked: start the backoff again
                except _Requeue as exc:
                    self.status.requeued += 1
                    self.status.last_error = str(exc)
                    log.warning("intake.requeued", extra={"fields": {"intake": self.name, "error": str(exc)}})
                except ConfigError as exc:
                    delay = o.max_backoff_seconds
                    self._failed(exc)
                except GatewayError as exc:
                    self._failed(exc)
                except Exception as exc:  # a defect must not end the thread: report and reconnect
                    log.exception("intake.crashed", extra={"fields": {"intake": self.name}})
                    self.status.last_error = f"{type(exc).__name__}: {exc}"
                finally:
                    self.status.connected = False
                    if self._link is not None:
                        self._link.close()
                if self._stopping.wait(delay):
                    break
                delay = min(delay * 2, o.max_backoff_seconds)
        log.info("intake.stopped", extra={"fields": {"intake": self.name}})

    def _failed(self, exc: GatewayError) -> None:
        self.status.last_error = exc.describe()
        log.error("intake.disconnected", extra={"fields": {"intake": self.name, "error": exc.describe()}})

    def _declare(self, chan: BlockingChannel) -> None:
        o = self.options
        if not o.declare:
            return
        try:
            chan.exchange_declare(o.dead_letter_exchange, "direct", durable=True)
            chan.queue_declare(o.dead_letter_queue, durable=True)
            chan.queue_bind(o.dead_letter_queue, o.dead_letter_exchange, routing_key=o.queue)
            chan.queue_declare(o.queue, durable=True, arguments={
                "x-dead-letter-exchange": o.dead_letter_exchange, "x-dead-letter-routing-key": o.queue})
        except pex.ChannelClosedByBroker as exc:
            if exc.reply_code == 406:
                raise ConfigError(
                    f"intake {self.name}: the broker refused our declarations: {exc.reply_text}",
                    hint="the queue or exchange exists with other settings: set declare: false and bind the "
                    "dead-letter exchange yourself, or delete them and let the gateway declare them",
                ) from exc
            raise

    def _consume(self, work: ThreadPoolExecutor) -> bool:
        o = self.options
        self._link = link = AmqpLink(self.settings, confirm=True, setup=self._declare)
        chan = link.channel()
        with translated(f"consuming {o.queue} at {self.settings.where}"):
            chan.basic_qos(prefetch_count=o.prefetch)
            self.status.connected = True
            self.status.connections += 1
            self.status.last_error = None
            log.info("intake.connected", extra={"fields": {"intake": self.name, "queue": o.queue}})
            for method, props, body in chan.consume(o.queue, inactivity_timeout=POLL_SECONDS):
                if self._stopping.is_set():
                    break
                if method is None:
                    continue
                self._one(work, link, chan, Delivery(method.delivery_tag, bool(method.redelivered),
                                                     method.exchange, method.routing_key, props, body))
            if chan.is_open:
                chan.cancel()  # what was prefetched goes back to the queue
        return True

    def _wait(self, work: ThreadPoolExecutor, link: AmqpLink, fn: Callable[[], Any]) -> Future[Any]:
        fut = work.submit(fn)
        fut.add_done_callback(lambda _f: link.wake())  # the pump below returns as soon as the work is done
        while not fut.done():
            link.pump(1.0)  # heartbeats (and buffered deliveries) while the handler works
        return fut

    def _one(self, work: ThreadPoolExecutor, link: AmqpLink, chan: BlockingChannel, d: Delivery) -> None:
        fut = self._wait(work, link, lambda: self.handle(d))
        try:
            verdict: Verdict = fut.result()
        except Exception as exc:  # a defect in the handler: once more, then dead-lettered
            log.exception("intake.handler_failed", extra={"fields": {"intake": self.name, "tag": d.tag}})
            if not d.redelivered:
                raise _Requeue(f"the handler failed ({type(exc).__name__}); the message is tried once more") from exc
            verdict = Verdict.dead("internal", f"the gateway failed on this message twice ({type(exc).__name__}: "
                                   f"{exc}); report it with the gateway's log")
        if verdict.action == "retry":
            raise _Requeue(verdict.reason)
        if verdict.action == "dead":
            self._dead_letter(chan, d, verdict)
            self.failpoints.hit("intake.after_dead_letter")
            with translated(f"acknowledging on {self.options.queue}"):
                chan.basic_ack(d.tag)
            self.status.dead_lettered += 1
            return
        self.failpoints.hit("intake.before_ack")
        with translated(f"acknowledging on {self.options.queue}"):
            chan.basic_ack(d.tag)
        self.status.acked += 1
        if verdict.after is not None:
            done = self._wait(work, link, verdict.after)
            if done.exception() is not None:  # delivery has its own retries and recovery: only report
                log.error("intake.after_failed", extra={"fields": {"intake": self.name,
                                                                   "error": str(done.exception())}})

    def _dead_letter(self, chan: BlockingChannel, d: Delivery, verdict: Verdict) -> None:
        o, p = self.options, d.properties
        headers = dict(p.headers or {})
        headers.update({
            "x-gateway-error": verdict.reason[:HEADER_LIMIT],
            "x-gateway-error-kind": verdict.kind,
            "x-gateway-queue": o.queue,
            "x-gateway-intake": self.name,
            "x-gateway-failed-at": datetime.now(UTC).isoformat(timespec="seconds"),
            **{k: v for k, v in verdict.headers.items() if v is not None},
        })
        props = pika.BasicProperties(
            content_type=p.content_type, content_encoding=p.content_encoding, headers=headers,
            delivery_mode=pika.DeliveryMode.Persistent, priority=p.priority, correlation_id=p.correlation_id,
            reply_to=p.reply_to, message_id=p.message_id, timestamp=p.timestamp, type=p.type, user_id=None,
            app_id=p.app_id,
        )
        try:
            with translated(f"dead-lettering to {o.dead_letter_exchange}"):
                chan.basic_publish(o.dead_letter_exchange, o.queue, d.body, properties=props, mandatory=True)
        except TransientTransportError as exc:
            raise TransientTransportError(
                f"intake {self.name}: {exc.message}",
                hint=f"bind a queue to exchange {o.dead_letter_exchange!r} with routing key {o.queue!r} "
                "(or set declare: true); the message stays in its queue meanwhile",
            ) from exc
        log.warning("intake.dead_lettered", extra={"fields": {
            "intake": self.name, "kind": verdict.kind, "reason": verdict.reason[:500],
            "amqp_message_id": p.message_id}})
