"""RabbitMQ destination: one persistent AMQP message per event, published with publisher confirms.

The routing key defaults to ``<partner>.<record type>`` (``acme-retail.order``; an acknowledgement outcome is
``<partner>.ack``). Properties: ``message_id`` = the event id (consumers drop repeats by it), ``type`` = the
event type, ``delivery_mode`` 2 (persistent), ``content_type`` application/json, and headers ``x-partner``,
``x-record-type``, ``x-set``. ``publish`` returns only after the broker confirmed the message (mandatory: a
message no queue would receive is returned and counts as a transient failure, never as delivered).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pika
from pika.adapters.blocking_connection import BlockingChannel

from gateway.handoff.config import RabbitMQConnection, RabbitMQDestination
from gateway.handoff.destinations.base import OutgoingEvent, Receipt
from gateway.partners.secrets import resolve_secret
from gateway.transports.amqp import AmqpLink, AmqpSettings, declare_exchange, declare_queue


def amqp_settings(config: RabbitMQConnection, *, secrets_dir: Path | None) -> AmqpSettings:
    """The connection of a destination or an intake, its password resolved (none: 'guest')."""
    password = (
        resolve_secret(config.password, secrets_dir=secrets_dir).get_secret_value() if config.password else "guest"
    )
    return AmqpSettings(
        host=config.host,
        port=config.port,
        virtual_host=config.virtual_host,
        username=config.username,
        password=password,
        timeout_seconds=config.timeout.total_seconds(),
    )


class RabbitMQPublisher:
    kind: ClassVar[str] = "rabbitmq"

    def __init__(self, config: RabbitMQDestination, *, secrets_dir: Path | None) -> None:
        self.name = config.name
        self.config = config
        self.secrets_dir = secrets_dir
        self._link: AmqpLink | None = None

    def _setup(self, chan: BlockingChannel) -> None:
        c = self.config
        if c.declare_exchange and c.exchange:
            declare_exchange(chan, c.exchange, c.exchange_type)
        if c.queue:
            declare_queue(chan, c.queue)
            if c.exchange:
                chan.queue_bind(queue=c.queue, exchange=c.exchange, routing_key=c.queue_binding)

    def link(self) -> AmqpLink:
        if self._link is None:
            self._link = AmqpLink(amqp_settings(self.config, secrets_dir=self.secrets_dir), setup=self._setup)
        return self._link

    def routing_key(self, event: OutgoingEvent) -> str:
        return self.config.routing_key.format(
            partner=event.partner or "unknown", record_type=event.record_type, set=event.set_id or "",
            event_type=event.type,
        )

    def publish(self, event: OutgoingEvent) -> Receipt:
        key = self.routing_key(event)
        props = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=event.event_id,
            type=event.type,
            app_id="edi-gateway",
            headers={"x-partner": event.partner, "x-record-type": event.record_type, "x-set": event.set_id},
        )

        def op(chan: BlockingChannel) -> None:
            chan.basic_publish(self.config.exchange, key, event.body, properties=props, mandatory=True)

        self.link().run(f"RabbitMQ {self.name}", op)
        return Receipt({"exchange": self.config.exchange, "routing_key": key})

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
