"""The store's vocabulary: the states, directions and roles its columns hold, as plain enumerations.

They live apart from the tables (:mod:`gateway.store.models`, which re-exports them) so that code naming a status or
a role -- the CLI's option types above all -- does not import SQLAlchemy: ``gateway messages --help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum


class ValidationStatus(StrEnum):
    """Outbound documents: did the produced X12 pass our own validator."""

    valid = "valid"
    invalid = "invalid"


class DeliveryStatus(StrEnum):
    """Outbound documents: where the transport stands."""

    pending = "pending"
    sent = "sent"  # handed to the channel; no receipt yet (async MDN awaited, or no receipt possible)
    delivered = "delivered"  # positive MDN with matching MIC, or HTTP 2xx / completed upload where that is final
    failed = "failed"
    dead = "dead"  # retries exhausted


class AckStatus(StrEnum):
    """Outbound documents: the partner's functional acknowledgement (997/999/TA1)."""

    not_expected = "not_expected"
    waiting = "waiting"
    accepted = "accepted"
    accepted_with_errors = "accepted_with_errors"
    partially_accepted = "partially_accepted"
    rejected = "rejected"
    overdue = "overdue"


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class MessageStatus(StrEnum):
    """Where a message stands. Terminal states are listed in TERMINAL."""

    # inbound
    received = "received"  # bytes being read from the channel
    archived = "archived"  # bytes durable in the archive, recorded here; nothing parsed yet
    processing = "processing"
    acked = "acked"  # accepted, and our acknowledgement (997/999/TA1) produced
    processed = "processed"  # accepted; nothing to acknowledge
    failed = "failed"  # rejected or unreadable: see reason
    quarantined = "quarantined"  # no partner claims it (or it is misaddressed): see reason
    duplicate = "duplicate"  # the same interchange (sender + ISA13) or the same bytes was received before
    unmatched = "unmatched"  # a partner's 997/999/TA1 that answers nothing we sent: see reason
    # outbound
    queued = "queued"
    sending = "sending"
    sent = "sent"  # handed to the partner's channel
    delivered = "delivered"  # the partner confirmed receipt (MDN, HTTP 2xx)
    retrying = "retrying"
    dead = "dead"  # retries exhausted
    mdn_overdue = "mdn_overdue"



class ApiRole(StrEnum):
    viewer = "viewer"  # reads
    operator = "operator"  # reads, resends, reprocesses
    admin = "admin"  # everything, including API keys

