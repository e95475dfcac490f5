"""What other layers record about a message besides its status: business keys, produced outputs, delivery attempts.

These functions take an open :class:`~sqlmodel.Session` so a caller can write them in the same transaction as its
own changes (the mapping layer records its keys and its canonical output together); :class:`Store` has wrappers
that open their own session. Called by::

    record_business_keys(session, message_id, [("po", "4500012345"), ("bol", "BOL123")])   # mapping, inbound flow
    record_output(session, message_id, kind="canonical", blob=archive.put_bytes(data), ...)  # mapping
    record_delivery_attempt(session, message_id, channel=..., outcome="sent", ...)         # transports, outbound

Recording is idempotent: the same key or the same output (message, kind, archive key) recorded twice is kept once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlmodel import Session, col, select

from gateway.business.keys import family, normalise
from gateway.store.archive import Blob
from gateway.store.key_index import insert_keys
from gateway.store.models import BusinessKey, BusinessKeyKind, DeliveryAttempt, Output, OutputKind
from gateway.store.types import utcnow

MAX_KEY_LENGTH = 128
KINDS = frozenset(k.value for k in BusinessKeyKind)


def normalise_keys(keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Validated, stripped, de-duplicated (kind, value) pairs in first-seen order; blank values are dropped."""
    out: dict[tuple[str, str], None] = {}
    for kind, value in keys:
        if type(kind) is not str or kind not in KINDS:  # a kind as the readers give it needs no cleaning
            kind = str(kind).strip().lower()
            if kind not in KINDS:
                raise ValueError(f"unknown business key kind {kind!r}: use one of {', '.join(sorted(KINDS))}")
        value = (value if type(value) is str else str(value)).strip()[:MAX_KEY_LENGTH]
        if value:
            out[(kind, value)] = None
    return list(out)


def record_business_keys(session: Session, message_id: int, keys: Iterable[tuple[str, str]]) -> int:
    """Attach business keys (kind: po, order, shipment, bol, pro, tracking, sscc, file) to a message.

    Keys already recorded for the message are left alone, so calling this again (reprocess, mapping after the
    inbound flow's own extraction) never duplicates. Returns the number of (kind, value) pairs given after
    normalisation. Does not commit: the caller's transaction decides.
    """
    pairs = normalise_keys(keys)
    if not pairs:
        return 0
    rows = [{"message_id": message_id, "kind": k, "value": v, "norm": (normalise(v) or None) if family(k) else None}
            for k, v in pairs]
    insert_keys(session.connection(), rows)  # with SQLite's search index (gateway.store.key_index)
    return len(pairs)


def forget_business_keys(session: Session, message_id: int, keep: tuple[str, ...] = ("file",)) -> int:
    """Delete the message's business keys but those of the kinds in ``keep`` (SQLite's search index follows, by
    trigger); how many were deleted. Does not commit."""
    q = sa_delete(BusinessKey).where(col(BusinessKey.message_id) == message_id, col(BusinessKey.kind).not_in(keep))
    return int(session.execute(q).rowcount or 0)  # type: ignore[attr-defined]


def business_keys(session: Session, message_id: int) -> list[BusinessKey]:
    q = select(BusinessKey).where(BusinessKey.message_id == message_id).order_by(col(BusinessKey.id))
    return list(session.exec(q).all())


def record_output(
    session: Session,
    message_id: int,
    *,
    kind: OutputKind | str,
    blob: Blob,
    content_type: str | None = None,
    file_name: str | None = None,
) -> Output:
    """Record a file produced from ``message_id`` whose bytes are already in the archive (``blob``).

    ``kind="canonical"`` is what ``GET /api/messages/{id}/canonical`` serves: the canonical records as JSON.
    """
    kind = OutputKind(kind).value
    found = session.exec(
        select(Output).where(Output.message_id == message_id, Output.kind == kind, Output.archive_key == blob.key)
    ).first()
    if found is not None:
        return found
    out = Output(
        message_id=message_id,
        kind=kind,
        archive_key=blob.key,
        sha256=blob.sha256,
        size=blob.size,
        content_type=content_type,
        file_name=file_name,
    )
    session.add(out)
    session.flush()
    return out


def outputs(session: Session, message_id: int, kind: OutputKind | str | None = None) -> list[Output]:
    """Outputs of a message, newest first."""
    q = select(Output).where(Output.message_id == message_id)
    if kind is not None:
        q = q.where(Output.kind == OutputKind(kind).value)
    return list(session.exec(q.order_by(col(Output.id).desc())).all())


def record_delivery_attempt(
    session: Session,
    message_id: int,
    *,
    channel: str | None,
    outcome: str,
    started_at: datetime,
    transport_id: str | None = None,
    error: dict[str, Any] | None = None,
    actor: str = "gateway",
) -> DeliveryAttempt:
    """One try at delivering an outbound message on one channel (outcome: sent, failed, retrying)."""
    att = DeliveryAttempt(
        message_id=message_id,
        channel=channel,
        started_at=started_at,
        finished_at=utcnow(),
        outcome=outcome,
        transport_id=transport_id,
        error=error,
        actor=actor,
    )
    session.add(att)
    session.flush()
    return att


def delivery_attempts(session: Session, message_id: int) -> list[DeliveryAttempt]:
    q = select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id).order_by(col(DeliveryAttempt.id))
    return list(session.exec(q).all())
