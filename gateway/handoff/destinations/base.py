"""The destination contract, as transports have theirs (docs/architecture.md, "Destinations mirror transports").

A destination takes one event at a time, in order: ``publish(event) -> Receipt`` returns only once the event is
durable on the other side (HTTP 2xx, file renamed into place, broker confirm). It raises
:class:`~gateway.errors.TransientTransportError` when a retry may help (connection refused or cut, timeout,
HTTP 5xx/429, broker nack) and :class:`~gateway.errors.PermanentTransportError` when it will not (HTTP 4xx,
refused credentials): the dispatcher retries the first by the destination's policy and parks the second as
``dead`` at once. ``close()`` drops connections; a later ``publish`` reconnects.

Every event carries a stable ``event_id``: delivery is at-least-once (a crash between the publish and recording
it publishes again), and the id is how the consumer drops the repeat. Each publisher puts it where its consumers
look: the webhook's ``X-Gateway-Event-Id`` header, the AMQP ``message_id`` property, the folder file's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    event_id: str
    type: str
    partner: str | None
    record_type: str
    set_id: str | None
    body: bytes  # the event's JSON (see gateway/handoff/events.py)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the destination said: shown on the message's timeline (never the payload)."""

    detail: dict[str, Any] = field(default_factory=dict)


class Destination(Protocol):
    name: str
    kind: ClassVar[str]

    def publish(self, event: OutgoingEvent) -> Receipt: ...

    def close(self) -> None: ...
