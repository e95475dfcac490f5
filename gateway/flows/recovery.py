"""Start-up recovery queries for work a crash left between two steps whose first ends in a final state.

``InboundFlow.recover`` resumes messages in non-final states; these find the ones it cannot see: an inbound X12
message already ``acked`` (final) whose mapping step never ran because the process died in between.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, select

from gateway.store.models import Direction, Event, Message, MessageStatus
from gateway.store.repository import Store

MAPPING_EVENTS = ("mapping.done", "mapping.failed")
LIMIT = 10_000  # per start; the rest the next start (a crash leaves a handful)


def unmapped_acked(store: Store) -> list[Message]:
    """Inbound X12 messages ``acked`` with transaction sets and no mapping outcome on their timeline, oldest first."""
    mapped = sa.exists().where(col(Event.message_id) == col(Message.id), col(Event.name).in_(MAPPING_EVENTS))
    with store.session() as s:
        q = (
            select(Message)
            .where(
                Message.direction == Direction.inbound,
                Message.status == MessageStatus.acked,
                Message.document_format == "x12",
                col(Message.set_ids).is_not(None),
                ~mapped,
            )
            .order_by(col(Message.id))
            .limit(LIMIT)
        )
        return list(s.exec(q).all())
