"""The transport contract (see STYLE.md section 3).

An inbound transport hands out :class:`InboundItem` objects. The flow archives the item's bytes and records
it, processes it, and only then calls ``item.ack(error)``:

- ``ack(None)``: success, commit the source (move to ``processed/``, answer 200, ...);
- ``ack(error)`` with a permanent error (a rejected or unreadable document): move the source aside to
  ``failed/`` so it is never picked up again, and never delete it;
- ``ack(error)`` with a transient error: leave the source where it is, to be delivered again.

An outbound transport's ``send`` is atomic (no half-written name is ever visible) and returns a
:class:`Receipt`. Each transport declares what it can do in ``capabilities``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import BinaryIO, Protocol, runtime_checkable

from gateway.errors import TransportError


class Capability(StrEnum):
    poll = "poll"  # the gateway asks for new items (SFTP, folder)
    listen = "listen"  # the partner pushes items (AS2, webhooks)
    send = "send"
    synchronous_receipt = "synchronous_receipt"  # send() returns the partner's receipt (sync MDN, HTTP 2xx)


def is_transient(error: BaseException | None) -> bool:
    return isinstance(error, TransportError) and error.transient


@runtime_checkable
class InboundItem(Protocol):
    channel: str  # "<partner>/<channel name>"
    partner_id: str | None  # the partner owning the channel, when the channel belongs to one
    name: str  # file name as received
    transport_id: str  # where it came from: a path, a Message-ID, a delivery id
    idempotency_key: str  # the same remote item always gives the same key
    size: int

    def open(self) -> BinaryIO: ...

    def ack(self, error: BaseException | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an outbound transport says about a send."""

    transport_id: str  # where it went: a path, a URL, a Message-ID
    detail: dict[str, object] = field(default_factory=dict)
