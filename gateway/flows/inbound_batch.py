"""The inbound flow for a batch of new items (the files of one poll): each step of ALL the batch's messages is
written in ONE store transaction (group commit), so many small files cost a handful of transactions per batch
instead of about ten per file. ``InboundFlow.receive`` of one item is a batch of one: there is one flow.

The steps, in the order of the single-message flow (:mod:`gateway.flows.inbound`), each per batch:

1. archive each item (fsynced), then ONE transaction creating all messages, leased to this node, with their
   events (fail point ``inbound.after_archive``);
2. read and identify each (pure work), then ONE transaction for all envelope steps (lineage, keys, status);
3. one query for duplicates of the whole batch;
4. acknowledge all (:meth:`gateway.flows.acks.AckFlow.acknowledge_many`: one transaction for the control
   numbers, one recording every 997 after each is archived, then each is sent);
5. commit every source (fail point ``inbound.before_commit``), then ONE transaction for all final statuses;
6. map all (fail point ``inbound.before_mapping``), ONE transaction; then ONE transaction releasing all to the
   hand-off (:meth:`gateway.flows.handoff.HandoffFlow.release_many`).

What is unusual leaves the batch and takes the single-message path from where it stands (every step is safe to
run again): a CSV/XML document, a file that cannot be read or identified (failed, quarantined), a duplicate, a
partner's acknowledgement, an unexpected error (the message then fails visibly there, as before).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from gateway.errors import GatewayError, StoreError
from gateway.flows.business_keys import recorded_forms
from gateway.flows.mapping_step import Mapped
from gateway.flows.reconcile import is_acknowledgement
from gateway.logging import get_logger, log_context, new_correlation_id
from gateway.partners.schema import Partner
from gateway.store.archive import Blob
from gateway.store.batch import Batch
from gateway.store.models import Direction, Message, MessageStatus
from gateway.store.repository import NewMessage
from gateway.transports.base import InboundItem, is_transient

if TYPE_CHECKING:
    from gateway.flows.inbound import InboundFlow

log = get_logger(__name__)


@dataclass
class Work:
    """One item of the batch on its way through the steps."""

    item: InboundItem
    msg: Message
    partner: Partner | None = None
    analysis: Any = None
    step: Batch = field(default_factory=Batch)  # the envelope step, then the final status with the ack.sent events
    done: bool = False  # reached its final status in the batch
    keys: frozenset[tuple[str, str]] = frozenset()  # business keys its envelope step recorded
    reader_batches: list[list[Any]] | None = None  # a small file's reader batches as its analysis read them

    def context(self) -> Any:
        return log_context(correlation_id=self.msg.correlation_id, message_id=self.msg.id,
                           partner_id=self.msg.partner_id or self.item.partner_id)


class InboundBatch:
    def __init__(self, flow: InboundFlow) -> None:
        self.flow = flow

    def receive(self, items: Sequence[InboundItem]) -> list[Message | None]:
        """Take new items (no message has their key yet) through the flow together; returns their messages (None
        for an item that vanished before it could be archived)."""
        flow = self.flow
        archived: list[tuple[InboundItem, Blob, str]] = []
        for item in items:
            cid = new_correlation_id()
            with log_context(correlation_id=cid):
                try:
                    with item.open() as src:
                        archived.append((item, flow.archive.put_stream(src), cid))
                except GatewayError as exc:
                    if not is_transient(exc):
                        raise
                    log.warning("message.unreadable", extra={"fields": {"channel": item.channel, "error": str(exc)}})
        lease = flow.leases.fields()
        try:
            msgs = flow.store.create_messages([new_message(item, blob, cid, lease) for item, blob, cid in archived])
        except IntegrityError:  # another node recorded one of these items at the same moment: one by one
            return [flow.receive_one(item) for item in items]
        flow.leases.adopt_many([msg.id for msg in msgs if msg.id is not None])
        works = [Work(item, msg) for (item, _b, _c), msg in zip(archived, msgs, strict=True)]
        for w in works:
            with w.context():
                log.info("message.archived", extra={"fields": {"sha256": w.msg.sha256, "size": w.msg.size,
                                                               "file": w.item.name}})
        try:
            flow.failpoints.hit("inbound.after_archive")
            self._process(works)
        finally:
            flow.leases.release_many([w.msg.id for w in works if w.msg.id is not None])
        by_item = {id(w.item): w.msg for w in works}
        return [by_item.get(id(item)) for item in items]

    def _process(self, works: list[Work]) -> None:
        flow = self.flow
        single: list[Work] = []  # left the batch: the single-message path takes them from where they stand
        try:
            batch = self._read(works, single)
            batch = self._acknowledge(batch, single)
            self._map(batch)
        except StoreError:
            raise  # the store or archive is down: everything stays in place for the next attempt
        except Exception:  # a defect (or a fail point raising): each message not finished takes the single path
            log.exception("inbound.batch_failed")
            single += [w for w in works if not w.done and w not in single]
        for w in sorted(single, key=lambda w: w.msg.id or 0):
            with w.context():
                flow.single(w.msg, w.item)

    def _read(self, works: list[Work], single: list[Work]) -> list[Work]:
        """Read and identify each message; one transaction for all envelope steps; one duplicate query."""
        flow = self.flow
        registry = flow.registry()
        read = []
        for w in works:
            with w.context():
                try:
                    got = flow.read_for_batch(w.msg, w.item, registry)
                except StoreError:
                    raise
                except Exception:  # failed, quarantined, or a defect: the single path says so
                    got = None
            if got is None:
                single.append(w)
                continue
            w.partner, w.analysis, w.step, w.reader_batches = got
            read.append(w)
        flow.store.apply(*(w.step for w in read))
        for w in read:  # recorded: the mapping step does not insert these again (nor an SSCC's 18-digit form)
            w.keys = recorded_forms((r["kind"], r["value"]) for r in w.step.key_rows if r["message_id"] == w.msg.id)
        if flow.duplicates is not None:
            dups = flow.duplicates.find_many([(w.msg, w.partner, w.analysis) for w in read])  # type: ignore[misc]
        else:
            dups = [None] * len(read)
        kept = []
        for w, dup in zip(read, dups, strict=True):
            if dup is not None or (flow.reconciler is not None and is_acknowledgement(w.analysis)):
                single.append(w)  # a duplicate, or a partner's acknowledgement: handled one by one
            else:
                kept.append(w)
        return kept

    def _acknowledge(self, works: list[Work], single: list[Work]) -> list[Work]:
        """Acknowledge all, commit every source, then all final statuses in one transaction."""
        flow = self.flow
        if not works:
            return []
        for w in works:
            w.step = Batch()  # ack.sent events, then the final status
        assert all(w.partner is not None for w in works)
        flow.acks.acknowledge_many([(w.msg, w.partner, w.analysis, w.step) for w in works],  # type: ignore[misc]
                                   now=flow.clock(), fresh=True)  # created by this batch: no ack recorded yet
        flow.failpoints.hit("inbound.before_commit")
        for w in works:
            with w.context():
                flow.final(w.msg, w.item, w.analysis, w.step)
        flow.store.apply(*(w.step for w in works))
        for w in works:
            w.done = True
            w.analysis = None  # not held through the mapping: a 100,000-set interchange's analysis is tens of MB
        return [w for w in works if w.msg.status == MessageStatus.acked]

    def _map(self, works: list[Work]) -> None:
        """Map all in one transaction, then hand all off in one (writes outbox rows; a sweep delivers)."""
        flow = self.flow
        if flow.mapping is None or not works:
            return
        ids = [w.msg.id for w in works if w.msg.id is not None]
        flow.working.update(ids)
        try:
            flow.failpoints.hit("inbound.before_mapping")
            batches = []
            mapped: dict[int, Mapped] = {}  # small messages as mapped: the hand-off does not read them back
            with flow.mapping.pinned():  # each partner's overrides file looked at once for the batch
                for w in works:
                    with w.context():
                        assert w.partner is not None
                        batches.append(flow.mapping.batch(w.msg, w.partner, keep=mapped, written=w.keys,
                                                          reader_batches=w.reader_batches))
                    w.reader_batches = None  # mapped: not held for the rest of the batch
            flow.store.apply(*batches)
            if flow.handoff is not None:  # never raises; gated: released once
                flow.handoff.release_many([w.msg for w in works], mapped=mapped)
        finally:
            flow.working.difference_update(ids)


def new_message(item: InboundItem, blob: Blob, correlation_id: str | None, lease: dict[str, Any]) -> NewMessage:
    """An archived item's message row (leased to this node) with its first events."""
    return NewMessage(
        dict(
            direction=Direction.inbound,
            status=MessageStatus.archived,
            partner_id=item.partner_id,
            channel=item.channel,
            transport_id=item.transport_id,
            idempotency_key=item.idempotency_key,
            file_name=item.name,
            size=blob.size,
            sha256=blob.sha256,
            archive_key=blob.key,
            correlation_id=correlation_id,
            **lease,
        ),
        [
            ("message.received", MessageStatus.received, {"channel": item.channel, "file": item.name}),
            ("message.archived", MessageStatus.archived, {"sha256": blob.sha256, "size": blob.size}),
        ],
    )
