"""Archive retention: remove payloads older than the retention period; the store keeps their metadata.

A purged message keeps its row, lineage, business keys and timeline; ``purged_at`` is set and an
``archive.purged`` event is added. Because the archive is content-addressed, a blob is deleted only when no
message or output that is *not* being purged still points at it. Only messages in a terminal state are purged
(an unfinished message may still need its bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select

from gateway.logging import get_logger
from gateway.store.archive import Archive
from gateway.store.models import TERMINAL, Event, Message, Output
from gateway.store.repository import Store
from gateway.store.types import utcnow

log = get_logger(__name__)
BATCH = 500


@dataclass(frozen=True, slots=True)
class PurgeResult:
    messages: int
    outputs: int
    blobs_deleted: int
    cutoff: datetime


def _purgeable(before: datetime) -> tuple[Any, ...]:
    return (
        col(Message.created_at) < before,
        col(Message.purged_at).is_(None),
        col(Message.status).in_([t.value for t in TERMINAL]),
    )


def count_purgeable(store: Store, *, before: datetime) -> int:
    """How many messages :func:`purge_archive` would purge (for a progress bar)."""
    with store.session() as s:
        return int(s.exec(select(func.count()).select_from(Message).where(*_purgeable(before))).one())


def purge_archive(
    store: Store,
    archive: Archive,
    *,
    before: datetime,
    actor: str = "gateway",
    progress: Callable[[int], None] | None = None,
) -> PurgeResult:
    """Purge the payloads (and outputs) of terminal messages created before ``before``.

    ``progress`` is called with the number of messages purged after each batch (the CLI's progress bar)."""
    n_msgs = n_outs = n_blobs = 0
    while True:
        with store.session() as s:
            batch = s.exec(
                select(Message)
                .where(*_purgeable(before))
                .order_by(col(Message.id))
                .limit(BATCH)
            ).all()
            if not batch:
                break
            ids = [m.id for m in batch]
            outs = s.exec(select(Output).where(col(Output.message_id).in_(ids), col(Output.purged_at).is_(None))).all()
            now = utcnow()
            keys = {m.archive_key for m in batch if m.archive_key} | {o.archive_key for o in outs}
            for m in batch:
                assert m.id is not None
                m.purged_at = now
                s.add(m)
                s.add(Event(message_id=m.id, name="archive.purged", actor=actor, detail={"before": before.isoformat()}))
            for o in outs:
                o.purged_at = now
                s.add(o)
            s.flush()
            # keep a blob still referenced by anything not purged (identical payloads are stored once)
            kept = set(
                s.exec(
                    select(Message.archive_key).where(
                        col(Message.archive_key).in_(keys), col(Message.purged_at).is_(None)
                    )
                ).all()
            ) | set(
                s.exec(
                    select(Output.archive_key).where(col(Output.archive_key).in_(keys), col(Output.purged_at).is_(None))
                ).all()
            )
            s.commit()
        for key in sorted(keys - kept):
            if archive.delete(key):
                n_blobs += 1
        n_msgs += len(batch)
        n_outs += len(outs)
        if progress is not None:
            progress(len(batch))
    log.info("archive.purged", extra={"fields": {"messages": n_msgs, "outputs": n_outs, "blobs": n_blobs}})
    return PurgeResult(messages=n_msgs, outputs=n_outs, blobs_deleted=n_blobs, cutoff=before)
