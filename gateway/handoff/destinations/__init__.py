"""Destinations: where hand-off events leave for internal systems. One small contract (``base.py``), one module
per kind; :func:`open_destination` builds one from its configuration, importing only that kind's module (httpx
for webhooks, pika for RabbitMQ: memory a gateway that does not use them does not spend)."""

from __future__ import annotations

from pathlib import Path

from gateway.handoff.config import FolderDestination, RabbitMQDestination, WebhookDestination
from gateway.handoff.destinations.base import Destination, OutgoingEvent, Receipt

__all__ = ["Destination", "OutgoingEvent", "Receipt", "open_destination"]


def open_destination(config: object, *, data_dir: Path, secrets_dir: Path | None) -> Destination:
    if isinstance(config, WebhookDestination):
        from gateway.handoff.destinations.webhook import WebhookPublisher

        return WebhookPublisher(config, secrets_dir=secrets_dir)
    if isinstance(config, FolderDestination):
        from gateway.handoff.destinations.folder import FolderPublisher

        path = config.path if config.path.is_absolute() else data_dir / config.path
        return FolderPublisher(config, path)
    if isinstance(config, RabbitMQDestination):
        from gateway.handoff.destinations.rabbitmq import RabbitMQPublisher

        return RabbitMQPublisher(config, secrets_dir=secrets_dir)
    raise TypeError(f"no publisher for destination type {getattr(config, 'type', config)!r}")
