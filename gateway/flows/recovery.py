"""Inbound recovery: messages a crash (or a node that died or stopped) left unfinished.

:func:`recover_inbound` resumes messages in non-final states whose lease ran out; :func:`unmapped_acked` finds
what it cannot see: an inbound X12 message already ``acked`` (final) whose mapping step never ran because the
process died in between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import col, select

from gateway.logging import get_logger, log_context
from gateway.store.models import INBOUND, TERMINAL, Direction, Event, Message, MessageStatus
from gateway.store.repository import Store

if TYPE_CHECKING:
    from gateway.flows.inbound import InboundFlow

log = get_logger(__name__)
AS2_ENVELOPES = ("as2:", "as2-bad:")  # rows As2Receiver writes for the HTTP request (its payload has its own)

MAPPING_EVENTS = ("mapping.done", "mapping.failed")
LIMIT = 10_000  # per start; the rest the next start (a crash leaves a handful)


def unmapped_acked(store: Store) -> list[Message]:
    """Inbound X12 messages ``acked`` with transaction sets and no mapping outcome on their timeline, oldest first.

    Only among those never released to the hand-off (``handoff_status`` NULL): the release follows the mapping, so
    a message released or marked had its mapping step (one with no set to map writes no event), and the query
    reads ``ix_message_unreleased`` (the work) instead of every acked message and its events (the archive)."""
    mapped = sa.exists().where(col(Event.message_id) == col(Message.id), col(Event.name).in_(MAPPING_EVENTS))
    with store.session() as s:
        q = (
            select(Message)
            .where(
                Message.direction == INBOUND,
                col(Message.handoff_status).is_(None),
                Message.status == MessageStatus.acked,
                Message.document_format == "x12",
                col(Message.set_ids).is_not(None),
                ~mapped,
            )
            .order_by(col(Message.id))
            .limit(LIMIT)
        )
        return list(s.exec(q).all())


def recover_inbound(flow: InboundFlow, *, startup: bool = True) -> list[int]:
    """Resume inbound messages left unfinished whose lease ran out (the node working on them died or stopped);
    a live node's messages are left to it. At start (``startup``) also maps messages a crash left acked but
    unmapped. Runs at start, before channels start, and on a sweep (every node: claims make it once)."""
    resumed = []
    now = flow.clock()
    elsewhere = flow.leases.elsewhere()  # the node registry asked once per sweep
    for msg in flow.store.unfinished(Direction.inbound):
        assert msg.id is not None
        if msg.archive_key is None:
            continue  # never archived: the source is still in its inbox and will be picked up again
        if (msg.idempotency_key or "").startswith(AS2_ENVELOPES):
            continue  # an AS2 request's own row: the sender retries without an MDN (As2Receiver resumes it)
        if elsewhere(msg, now):
            continue  # a live node works on it
        if not startup and msg.lease_owner is None and msg.updated_at > now - flow.leases.lease:
            continue  # unleased (a step that gave up, or a writer without leases) and recent: wait a lease
        if not flow.leases.take(msg.id):
            continue  # taken meanwhile by another node, or this node is at it (a slow receive)
        try:
            current = flow.store.get(msg.id)
            if current.status in TERMINAL:
                continue  # finished meanwhile
            log.info("message.recovering", extra={"fields": {"message_id": msg.id, "status": msg.status,
                                                             "previous_owner": msg.lease_owner}})
            flow.resume_held(msg.id)
            resumed.append(msg.id)
        finally:
            flow.let_go(msg.id)
    resumed += _recover_mapping(flow, startup=startup)
    return resumed

def _recover_mapping(flow: InboundFlow, *, startup: bool = True) -> list[int]:
    """Crash gap: a message ``acked`` (a final state) whose mapping never ran is mapped now. At start every
    such message; on the sweep only those whose node died holding the lease (a lease never given back)."""
    if flow.mapping is None:
        return []
    done = []
    registry = flow.registry()
    now = flow.clock()
    elsewhere = flow.leases.elsewhere()
    for msg in unmapped_acked(flow.store):
        assert msg.id is not None
        partner = registry.get(msg.partner_id) if msg.partner_id else None
        if partner is None or elsewhere(msg, now):
            continue
        if not startup and msg.lease_owner is None:
            continue  # finished normally (lease given back): its mapping had nothing to write
        with flow.leases.working(msg.id) as mine:
            if not mine:
                continue  # the node that acked it is mapping it now
            fresh = flow.store.get(msg.id)
            if fresh.status != MessageStatus.acked or any(
                e.name in ("mapping.done", "mapping.failed") for e in flow.store.events(msg.id)
            ):
                continue  # mapped meanwhile
            with log_context(message_id=msg.id, partner_id=partner.id):
                log.info("mapping.recovering")
                flow.mapping.run(fresh, partner)
                if flow.handoff is not None:
                    flow.handoff.release(flow.store.get(msg.id))  # gated: released once
        done.append(msg.id)
    return done
