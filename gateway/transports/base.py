"""The transport contract (see STYLE.md section 3).

An inbound transport hands out :class:`InboundItem` objects. The flow archives the item's bytes and records
it, processes it, and only then calls ``item.ack(error)``:

- ``ack(None)``: success, commit the source (move to ``processed/``, answer 200, ...);
- ``ack(error)`` with a permanent error (a rejected or unreadable document): move the source aside to
  ``failed/`` so it is never picked up again, and never delete it;
- ``ack(error)`` with a transient error: leave the source where it is, to be delivered again.

A polling transport's ``poll()`` returns the complete items it sees (oldest first) and, when some file is not
complete yet, the number of seconds after which it may be; ``forget(item)`` drops what it remembered about an
item once the flow is done with it, and ``close()`` ends the connection a poll opened (a poll and the items it
returned share one connection). A new instance on the same source must see every item that was not acked:
that is at-least-once across a restart.

An outbound transport's ``send`` is atomic (no half-written name is ever visible) and returns a
:class:`Receipt` whose ``outcome`` says how far the delivery got: ``sent`` (handed over; a receipt may follow
later, e.g. an asynchronous MDN, or never) or ``delivered`` (the partner confirmed receipt: a synchronous MDN
with a matching MIC, HTTP 2xx where that is final). A partner that refuses the document (a negative MDN) is not a
receipt: ``send`` raises :class:`~gateway.errors.PartnerRejected` (permanent). Each transport declares what it can
do in ``capabilities``.

While the outbound flow delivers a stored message it names it with :func:`delivering`; a transport that keeps
its own records of a transmission (AS2: the built request, its Message-ID and options) reads
:func:`current_delivery` to tie them to the message. Transports that do not care ignore it.

Every transport passes the shared contract suite in ``tests/transports/contract.py``; ``memory.py`` is the
reference implementation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, BinaryIO, Protocol, runtime_checkable

from gateway.errors import TransportError, UnsafePathError


class Capability(StrEnum):
    poll = "poll"  # the gateway asks for new items (SFTP, folder)
    listen = "listen"  # the partner pushes items (AS2, webhooks)
    send = "send"
    synchronous_receipt = "synchronous_receipt"  # send() returns the partner's receipt (sync MDN, HTTP 2xx)


def is_transient(error: BaseException | None) -> bool:
    return isinstance(error, TransportError) and error.transient


@runtime_checkable
class InboundItem(Protocol):
    @property
    def channel(self) -> str: ...  # "<partner>/<channel name>"

    @property
    def partner_id(self) -> str | None: ...  # the partner owning the channel, when the channel belongs to one

    @property
    def name(self) -> str: ...  # file name as received

    @property
    def transport_id(self) -> str: ...  # where it came from: a path, a Message-ID, a delivery id

    @property
    def idempotency_key(self) -> str: ...  # the same remote item always gives the same key

    @property
    def size(self) -> int: ...

    def open(self) -> BinaryIO: ...

    def ack(self, error: BaseException | None = None) -> None: ...


@runtime_checkable
class PollingInbound(Protocol):
    channel: str
    partner_id: str | None
    capabilities: frozenset[Capability]

    def poll(self) -> tuple[Sequence[InboundItem], float | None]: ...

    def forget(self, item: Any) -> None: ...  # an item this transport returned

    def close(self) -> None: ...


@runtime_checkable
class Outbound(Protocol):
    channel: str
    capabilities: frozenset[Capability]

    def send(self, name: str, source: BinaryIO) -> Receipt: ...


def check_name(name: str) -> str:
    """A file name to send or receive: one plain path component, nothing hidden, nothing that climbs out."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or name.startswith(".")
        or any(ord(c) < 32 for c in name)
    ):
        raise UnsafePathError(f"refusing the file name {name!r}: it must be one plain name inside the folder")
    return name


class ReceiptOutcome(StrEnum):
    sent = "sent"  # handed to the channel; the partner's receipt is still to come (async MDN), or never comes
    delivered = "delivered"  # the partner confirmed receipt: sync MDN with matching MIC, HTTP 2xx when final
    completed = "completed"  # the transfer completed and the channel has no later receipt (folder, SFTP, webhook)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an outbound transport says about a send."""

    transport_id: str  # where it went: a path, a URL, a Message-ID
    detail: dict[str, object] = field(default_factory=dict)
    outcome: ReceiptOutcome = ReceiptOutcome.sent


_delivering: ContextVar[int | None] = ContextVar("gateway_delivering", default=None)


@contextmanager
def delivering(message_id: int | None) -> Iterator[None]:
    """Name the stored message whose bytes the enclosed ``send`` calls carry (set by the outbound flow)."""
    token = _delivering.set(message_id)
    try:
        yield
    finally:
        _delivering.reset(token)


def current_delivery() -> int | None:
    """The id of the stored message being delivered, or None outside the outbound flow (a bare ``send``)."""
    return _delivering.get()
