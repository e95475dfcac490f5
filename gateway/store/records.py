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
from sqlalchemy import func
from sqlalchemy import update as sa_update
from sqlmodel import Session, col, select

from gateway.business.keys import family, normalise
from gateway.store.archive import Blob
from gateway.store.key_index import insert_keys
from gateway.store.models import BusinessKey, BusinessKeyKind, DeliveryAttempt, Message, Output, OutputKind
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


def mark_key_reading(session: Session, message_id: int) -> None:
    """Before a reading writes keys of the message ahead of its step (a large file's chunks, written while its
    analysis reads it: gateway.flows.batching.KeyTap): note the message's highest key id, unless a reading that
    never settled (a crash) noted one already, which is kept. Does not commit; the caller commits before the first
    chunk is written.

    Which keys a reading added is told by their ids, not by tagging each key (which would cost every key insert):
    a key is inserted once (``ON CONFLICT DO NOTHING``: one already recorded keeps its id), and a new row's id is
    above every id the table holds (PostgreSQL's sequence only grows; SQLite's rowid is one more than the
    highest, and the message's own keys stay in the table), so the keys above the mark are exactly the ones the
    unsettled reading(s) added: never one of an earlier, settled reading, nor the file name's key (written with
    the message). Kept in the store, the mark outlives a crash: the reading that follows (recovery, a redelivery,
    a reprocess) keeps it, so its outcome covers the keys the crashed one left too."""
    top = select(func.coalesce(func.max(BusinessKey.id), 0)).where(BusinessKey.message_id == message_id)
    mark = func.coalesce(col(Message.unsettled_keys_after), top.scalar_subquery())
    session.execute(sa_update(Message).where(col(Message.id) == message_id).values(unsettled_keys_after=mark))


def forget_unsettled_keys(session: Session, message_id: int) -> int:
    """The message's reading is refused: delete the keys written since :func:`mark_key_reading` (SQLite's search
    index follows, by trigger) and clear the mark; how many were deleted (0 without a mark). A reading that
    settles clears the mark with its step instead (its keys stay). Does not commit."""
    mark = session.execute(select(Message.unsettled_keys_after).where(col(Message.id) == message_id)).scalar()
    if mark is None:
        return 0
    q = sa_delete(BusinessKey).where(col(BusinessKey.message_id) == message_id, col(BusinessKey.id) > mark,
                                     col(BusinessKey.kind) != BusinessKeyKind.file.value)
    n = int(session.execute(q).rowcount or 0)  # type: ignore[attr-defined]
    session.execute(sa_update(Message).where(col(Message.id) == message_id).values(unsettled_keys_after=None))
    return n


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
