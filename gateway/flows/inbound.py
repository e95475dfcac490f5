"""The inbound flow: receive -> archive + record -> read the envelope -> identify the partner -> acknowledge ->
commit the source -> final status. Every step leaves an event on the message's timeline.

Archive first, acknowledge last: the bytes are durable in the archive and recorded in the store before anything
parses them, and the source (the file in the inbox) is committed only after processing. Processing reads the
archived copy, so a message can be resumed after a crash, or reprocessed later, without the source.

Delivery is at-least-once; the item's idempotency key makes a redelivered item resume its message instead of
creating a second one, and every step is safe to run again (acknowledgements are produced once per message).

Several nodes on one store: a message is created already leased to the node that received it
(:mod:`gateway.store.leases`), and every later step (a redelivery, a reprocess, recovery) works on it only while
holding its lease. :meth:`InboundFlow.recover` resumes only messages whose lease ran out (their node died or
stopped), never a live node's message in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from gateway.edi.x12 import analyze
from gateway.errors import (
    DocumentError,
    GatewayError,
    InvalidActionError,
    MisaddressedError,
    NotEDIError,
    RoutingConflictError,
    StoreError,
    UnknownPartnerError,
)
from gateway.failpoints import FailPoints
from gateway.flows.acks import AckFlow
from gateway.flows.batching import KeySink, KeyTap
from gateway.flows.business_keys import iter_business_keys, key_segments
from gateway.flows.declared import enforce_declared, timeline_events
from gateway.flows.duplicates import DuplicateCheck
from gateway.flows.file_documents import FileDocuments
from gateway.flows.handoff import HandoffFlow
from gateway.flows.identify import identify_partner, rejection, require_senders
from gateway.flows.inbound_batch import InboundBatch, new_message
from gateway.flows.lineage import interchange_records, summarize_envelope
from gateway.flows.mapping_step import MappingStep
from gateway.flows.reconcile import Reconciler, is_acknowledgement
from gateway.flows.recovery import recover_inbound
from gateway.logging import get_logger, log_context, new_correlation_id
from gateway.partners.registry import PartnerRegistry
from gateway.partners.schema import Partner
from gateway.store.archive import Archive
from gateway.store.batch import Batch
from gateway.store.leases import MessageLeases
from gateway.store.models import TERMINAL, Message, MessageStatus
from gateway.store.repository import Store
from gateway.transports.base import InboundItem, is_transient

log = get_logger(__name__)

# up to this size an X12 file's keys come from the reader batches its analysis kept (the archive read once);
# a larger file's are taken from each batch as the analysis reads it and written in bounded chunks (KeyTap,
# KeySink: its batches would be several times the file in memory)
KEYS_FROM_ANALYSIS_BYTES = 256 * 1024
# up to this size, in a batch, the mapping step gets those batches too (it does not read and split the archived
# bytes again); held from the envelope step to the mapping, so a batch of 50 such files holds a few MB at most
MAP_FROM_ANALYSIS_BYTES = 64 * 1024
QUARANTINE_ERRORS = (UnknownPartnerError, MisaddressedError, RoutingConflictError)


class InboundFlow:
    def __init__(
        self,
        *,
        store: Store,
        archive: Archive,
        registry: Callable[[], PartnerRegistry],
        acks: AckFlow,
        clock: Callable[[], datetime],
        failpoints: FailPoints | None = None,
        mapping: MappingStep | None = None,
        quote_data: bool = False,
        reconciler: Reconciler | None = None,
        duplicates: DuplicateCheck | None = None,
        handoff: HandoffFlow | None = None,
        files: FileDocuments | None = None,
        leases: MessageLeases | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.registry = registry
        self.acks = acks
        self.mapping = mapping
        self.handoff = handoff  # hands mapped records to internal systems (gateway/flows/handoff.py)
        self.files = files  # CSV and XML documents from partners (gateway/flows/file_documents.py)
        self.clock = clock
        self.failpoints = failpoints or FailPoints()
        self.quote_data = quote_data  # failure reasons may quote payload data (edge.quote_data_in_reasons)
        self.reconciler = reconciler  # partner 997/999/TA1 -> the outbound documents they answer (issue 13)
        self.duplicates = duplicates  # the same interchange received twice (issue 13)
        self.leases = leases or MessageLeases(store.engine)  # which node works on a message now
        # messages this process is mapping and handing off right now: the hand-off reconcile job must not take a
        # large file's long mapping for a crash and map it a second time alongside (HandoffFlow.busy)
        self.working: set[int] = set()

    # -- entry points ----------------------------------------------------------------------------------------
    def receive(self, item: InboundItem) -> Message | None:
        """Take one item from a channel through the whole flow: a batch of one (:meth:`receive_many`)."""
        return self.receive_many([item])[0]

    def receive_many(self, items: Sequence[InboundItem]) -> list[Message | None]:
        """Take items from a channel through the whole flow; returns their messages (None: the item vanished).
        New items go through together, each step of all of them in one transaction (:mod:`inbound_batch`);
        an item already recorded (a redelivery) resumes its message on its own.

        A message another live node is working on is left to it: returned as it stands, the source not committed
        (the channel offers the item again later, when that node has finished it)."""
        found = self.store.find_by_keys([item.idempotency_key for item in items])
        fresh = [item for item in items if item.idempotency_key not in found]
        out = dict(zip(map(id, fresh), InboundBatch(self).receive(fresh), strict=True)) if fresh else {}
        for item in items:
            if id(item) not in out:
                out[id(item)] = self._receive_known(item, found[item.idempotency_key])
        return [out[id(item)] for item in items]

    def receive_one(self, item: InboundItem) -> Message | None:
        """One item on its own (a new item another node may be recording at the same moment)."""
        existing = self.store.find_by_key(item.idempotency_key)
        if existing is not None:
            return self._receive_known(item, existing)
        with log_context(correlation_id=new_correlation_id()):
            archived = self._archive(item)  # created leased to this node (or taken, when another node raced us)
            if archived is None:
                return None
            msg, mine = archived
            if not mine:
                return msg  # another node received the same item at the same moment and works on it
            assert msg.id is not None
            try:
                with log_context(message_id=msg.id, partner_id=msg.partner_id or item.partner_id):
                    return self.single(msg, item)
            finally:
                self.let_go(msg.id)

    def _receive_known(self, item: InboundItem, msg: Message) -> Message | None:
        """An item whose message exists (a redelivery, or a crash before its source was committed)."""
        mid = msg.id
        assert mid is not None
        with log_context(correlation_id=msg.correlation_id or new_correlation_id()):
            if not self.leases.take(mid):
                log.info("message.busy_elsewhere", extra={"fields": {"message_id": mid}})
                return self.store.get(mid)
            try:
                msg = self.store.get(mid)  # as the last holder left it
                with log_context(message_id=mid, partner_id=msg.partner_id or item.partner_id):
                    return self.single(msg, item)
            finally:
                self.let_go(mid)

    def single(self, msg: Message, item: InboundItem) -> Message:
        """The single-message path, for a caller holding the lease: a redelivered message, or one that left a
        batch (an unusual branch), from where it stands."""
        if msg.status in TERMINAL:
            log.info("message.redelivered", extra={"fields": {"status": msg.status}})
            self._commit(msg, item, None if msg.status in _SUCCESS else _already_failed(msg))
            return msg
        return self._guarded(msg, item)

    def let_go(self, message_id: int) -> None:
        try:
            self.leases.release(message_id)
        except Exception:  # the store is down: the lease runs out by itself
            log.warning("message.lease_not_released", extra={"fields": {"message_id": message_id}})

    def resume(self, message_id: int, *, actor: str = "gateway", force: bool = False) -> Message:
        """Process an archived message again from its archived bytes (crash recovery, or a reprocess request).
        ``force`` processes a duplicate interchange anyway (an operator's decision, recorded with the actor).
        Refused (:class:`BusyElsewhere`) while another live node holds the message's lease."""
        if not self.leases.take(message_id):
            current = self.store.get(message_id)
            raise BusyElsewhere(
                f"message {message_id} is being processed by node {current.lease_owner!r} "
                f"(lease until {current.lease_until.isoformat() if current.lease_until else '?'})",
                hint="try again once it has finished; a node that died leaves it when its lease runs out",
            )
        try:
            return self.resume_held(message_id, actor=actor, force=force)
        finally:
            self.let_go(message_id)

    def resume_held(self, message_id: int, *, actor: str = "gateway", force: bool = False) -> Message:
        """:meth:`resume` for a caller holding the message's lease."""
        msg = self.store.get(message_id)
        with log_context(correlation_id=msg.correlation_id or new_correlation_id(), message_id=message_id):
            if actor != "gateway":
                name = "message.reprocess_forced" if force else "message.reprocess_requested"
                self.store.add_event(message_id, name, actor=actor, detail={"previous_status": msg.status})
            return self._guarded(msg, None, force=force)

    def recover(self, *, startup: bool = True) -> list[int]:
        """Resume inbound messages left unfinished whose lease ran out (their node died or stopped), and at start
        map those a crash left acked but unmapped (:func:`gateway.flows.recovery.recover_inbound`)."""
        return recover_inbound(self, startup=startup)

    def _guarded(self, msg: Message, item: InboundItem | None, *, force: bool = False) -> Message:
        """Process; an unexpected error fails the message visibly instead of leaving it to loop in the inbox."""
        try:
            return self._process(msg, item, force=force)
        except StoreError:
            raise  # the store or archive is down: leave everything in place for the next attempt
        except Exception as exc:  # a defect, not bad input: keep the payload, say so, keep running
            log.exception("message.internal_error")
            error = GatewayError(
                f"internal error while processing: {type(exc).__name__}: {exc}",
                hint="the payload is archived; report this to the gateway developers, then reprocess the message",
            )
            return self._finish(msg, item, MessageStatus.failed, error)

    # -- steps -----------------------------------------------------------------------------------------------
    def _archive(self, item: InboundItem) -> tuple[Message, bool] | None:
        """Archive and record the item: its message, and whether this node holds its lease (False: another node
        recorded the same item at the same moment and works on it)."""
        try:
            with item.open() as src:
                blob = self.archive.put_stream(src)
        except GatewayError as exc:
            if is_transient(exc):
                log.warning("message.unreadable", extra={"fields": {"channel": item.channel, "error": str(exc)}})
                return None
            raise
        new = new_message(item, blob, log_context_id(), self.leases.fields())
        msg, created = self.store.create_message(**new.fields, events=new.events, look_first=False)
        assert msg.id is not None
        if created:
            self.leases.adopt(msg.id)
        elif not self.leases.take(msg.id):  # another node received the same item at the same moment
            log.info("message.busy_elsewhere", extra={"fields": {"message_id": msg.id}})
            return msg, False
        else:
            msg = self.store.get(msg.id)
        log.info(
            "message.archived",
            extra={"fields": {"sha256": blob.sha256, "size": blob.size, "file": item.name}},
        )
        try:
            self.failpoints.hit("inbound.after_archive")
        except BaseException:
            assert msg.id is not None
            self.let_go(msg.id)  # the caller's finally is not reached: give the lease back here
            raise
        return msg, True

    def _process(self, msg: Message, item: InboundItem | None, *, force: bool = False) -> Message:
        assert msg.id is not None and msg.archive_key is not None
        channel_partner = item.partner_id if item is not None else _channel_partner(msg)
        registry = self.registry()
        if self.files is not None and channel_partner is not None and (p := registry.get(channel_partner)):
            spec = self.files.spec_for(msg.archive_key, msg.file_name, p)  # a CSV/XML document, not X12
            if spec is not None:
                status, err = self.files.process(msg.id, msg.archive_key, msg.file_name, p, spec)
                done = self._finish(self.store.get(msg.id), item, status, err)  # as files.process left it
                if status == MessageStatus.processed and self.handoff is not None:
                    self.handoff.release(done)
                return done
        try:
            partner, analysis = self._read_and_identify(msg, registry, channel_partner)
        except QUARANTINE_ERRORS as exc:
            return self._finish(msg, item, MessageStatus.quarantined, exc)
        except DocumentError as exc:
            return self._finish(msg, item, MessageStatus.failed, exc)
        except StoreError as exc:
            # the archive or the store failed: leave the source in place for another try
            log.error("message.store_failed", extra={"fields": {"error": str(exc)}})
            raise
        # -- issue 13: duplicates stop here; partner acknowledgements are reconciled, never mapped --
        if self.duplicates is not None and not force:
            dup = self.duplicates.find(msg, partner, analysis)
            if dup is not None:
                return self._duplicate(msg, item, partner, analysis, dup)
        if self.reconciler is not None and is_acknowledgement(analysis):
            return self._reconcile(msg, item, partner, analysis)
        done = self._acknowledge(msg, item, partner, analysis)
        del analysis  # not held through the mapping: a 100,000-set interchange's analysis is tens of MB
        return self._map(done, partner)

    def _read_and_identify(
        self, msg: Message, registry: PartnerRegistry, channel_partner: str | None
    ) -> tuple[Partner, Any]:
        analysis, batch, _batches = self._envelope(msg, registry, channel_partner)
        try:
            partner = self._identified(msg, analysis, registry, channel_partner, batch)
        finally:  # the envelope step is written whatever identification says
            self.store.apply(batch)
        return partner, analysis

    def read_for_batch(
        self, msg: Message, item: InboundItem, registry: PartnerRegistry
    ) -> tuple[Partner, Any, Batch, list[list[Any]] | None] | None:
        """For a batch: the partner, the analysis, the envelope step (not written yet) and, for a file of up to
        :data:`MAP_FROM_ANALYSIS_BYTES`, the reader batches the analysis read from the archive (for the mapping
        step, see :func:`gateway.mapping.x12.iter_transactions`) of an X12 message; None for a CSV/XML document.
        Raises what :meth:`_read_and_identify` raises (the caller takes the single path)."""
        assert msg.archive_key is not None
        channel_partner = item.partner_id
        files, p = self.files, registry.get(channel_partner) if channel_partner is not None else None
        if files is not None and p is not None and files.spec_for(msg.archive_key, msg.file_name, p) is not None:
            return None  # a CSV/XML document: the single path
        analysis, batch, batches = self._envelope(msg, registry, channel_partner)
        if batches is not None and (msg.size or 0) > MAP_FROM_ANALYSIS_BYTES:
            batches = None
        return self._identified(msg, analysis, registry, channel_partner, batch), analysis, batch, batches

    def _envelope(self, msg: Message, registry: PartnerRegistry,
                  channel_partner: str | None) -> tuple[Any, Batch, list[list[Any]] | None]:
        """Analyze the archived bytes; the envelope step's writes (lineage, keys, status), not applied yet, and
        the reader batches of a file of up to :data:`KEYS_FROM_ANALYSIS_BYTES` (None for a larger one)."""
        assert msg.id is not None and msg.archive_key is not None
        if msg.size == 0:
            raise NotEDIError("the file is empty", hint="ask the partner to send the file again")
        hint = registry.get(channel_partner) if channel_partner else None
        tolerant = hint is None or hint.reading == "tolerant"
        # a small file's reader batches are kept for its keys (read once); a large one's keys go to the store as
        # the analysis reads it, in bounded chunks (KeySink, KeyTap)
        kept: list[list[Any]] | None = [] if msg.size is not None and msg.size <= KEYS_FROM_ANALYSIS_BYTES else None
        batch = Batch()
        sink = None if kept is not None else KeySink(self.store, msg.id, batch,
                                                     before_first_chunk=lambda: self._mark_keys(msg))
        tap: Callable[[list[Any]], object] = kept.append if kept is not None else KeyTap(cast(KeySink, sink))
        try:
            with self.archive.open(msg.archive_key) as src:
                analysis = analyze(src, tolerant=tolerant, file=msg.file_name, tap=tap)
            require_senders(analysis, self.quote_data)  # before anything stores what the reader made of the bytes
        except BaseException:
            if sink is not None:
                try:
                    self._unindex(msg, sink)
                except Exception:  # the store is down: the message is read again later, and this again
                    log.warning("business_keys.not_forgotten", extra={"fields": {"message_id": msg.id}})
            raise
        summary = summarize_envelope(analysis)
        # the envelope step: lineage, keys and the status in ONE transaction, written whatever identification says
        # (a message still "archived" was never read: no earlier lineage to replace)
        batch.lineage(msg.id, interchange_records(analysis), replace=msg.status != MessageStatus.archived)
        settled: dict[str, Any] = {}
        if sink is not None and not analysis.interchanges:  # nothing the reader took for X12: no keys either
            self._unindex(msg, sink)
        elif sink is not None:
            sink.close()  # the last chunk of keys joins the step
            settled["unsettled_keys_after"] = None  # the keys written ahead of the step are kept with it
        elif kept is not None and analysis.interchanges:
            self._index_keys(msg, batch, kept)
        batch.update(
            msg,
            event="envelope.read",
            status=MessageStatus.processing,
            document_format="x12",
            set_ids=",".join(summary["set_ids"]) or None,
            detail=summary,
            **settled,
        )
        return analysis, batch, kept

    def _identified(self, msg: Message, analysis: Any, registry: PartnerRegistry, channel_partner: str | None,
                    batch: Batch) -> Partner:
        partner = identify_partner(analysis, registry, channel_partner, file=msg.file_name,
                                   quote_data=self.quote_data)
        batch.update(msg, event="partner.identified", partner_id=partner.id, detail={"partner": partner.id})
        # sets or versions the partner did not declare: refused by the acknowledgement, or a warning (declared.py)
        for name, detail in timeline_events(enforce_declared(analysis, partner, file=msg.file_name)):
            batch.event(msg, name, detail=detail)
        return partner

    def _index_keys(self, msg: Message, batch: Batch, kept: list[list[Any]]) -> None:
        """The reference numbers (PO, BOL, PRO, tracking ...) of a small file, indexed for search with the step,
        from the reader batches its analysis kept (the segments without reading the archive again)."""
        assert msg.id is not None
        sink = KeySink(self.store, msg.id, batch)
        sink.add(iter_business_keys(key_segments(kept)))
        sink.close()

    def _mark_keys(self, msg: Message) -> None:
        """Before the first chunk of a large file's keys is written ahead of its step: note in the store where the
        keys of this reading begin (records.mark_key_reading), so that a refusal, or the reading after a crash,
        deletes those and only those."""
        assert msg.id is not None
        self.store.mark_key_reading(msg.id)
        self.failpoints.hit("inbound.after_key_mark")

    def _unindex(self, msg: Message, sink: KeySink) -> None:
        """A large file's keys, given to the store as its analysis read them (KeyTap), when the analysis ends
        without a usable interchange (or fails): the keys this reading added are deleted again (and those a reading
        a crash interrupted added: records.forget_unsettled_keys), so that the file's keys are indexed exactly when
        they were before (after the analysis, for a file the reader took for X12 with plausible senders). The keys
        an earlier, settled reading wrote stay (a reprocess refused), and so does the file name's key. Asked even
        when this reading wrote no chunk: one a crash interrupted may have (its mark is in the store)."""
        assert msg.id is not None
        sink.drain()
        self.failpoints.hit("inbound.before_forget_keys")
        self.store.forget_unsettled_keys(msg.id)

    def _acknowledge(self, msg: Message, item: InboundItem | None, partner: Partner, analysis: Any) -> Message:
        assert msg.id is not None
        with log_context(partner_id=partner.id):
            batch = Batch()  # ack.sent events: written with the final status
            self.acks.acknowledge(msg, partner, analysis, now=self.clock(), batch=batch)
            self.failpoints.hit("inbound.before_commit")
            self.final(msg, item, analysis, batch)
            self.store.apply(batch)
            return msg

    def _map(self, done: Message, partner: Partner) -> Message:
        """An acknowledged message's mapping and hand-off (after the source is committed: a slow mapping holds
        nothing up)."""
        if done.status != MessageStatus.acked or self.mapping is None:
            return done
        assert done.id is not None
        with log_context(partner_id=partner.id):
            self.working.add(done.id)
            try:
                self.failpoints.hit("inbound.before_mapping")
                self.mapping.run(done, partner)
                if self.handoff is not None:
                    self.handoff.release(done)  # writes outbox rows only; a sweep delivers (``done`` is current)
            finally:
                self.working.discard(done.id)
        return done

    def _duplicate(self, msg: Message, item: InboundItem | None, partner: Partner, analysis: Any, dup: Any) -> Message:
        """Not processed again: no 997/999, no mapping; a TA1 note 025 if the partner asked for TA1s."""
        assert msg.id is not None and self.duplicates is not None
        with log_context(partner_id=partner.id):
            ta1 = self.duplicates.answer(msg, partner, analysis, dup)
            self.failpoints.hit("inbound.before_commit")
            self._commit(msg, item, None)  # handled: the source leaves the inbox
            log.warning("message.duplicate", extra={"fields": {"original": dup.original_id, "by": dup.by}})
            return self.store.update(
                msg.id,
                event="message.duplicate",
                status=MessageStatus.duplicate,
                reason=dup.reason,
                detail={"original": dup.original_id, "by": dup.by, "ta1_message_id": ta1.id if ta1 else None},
            )

    def _reconcile(self, msg: Message, item: InboundItem | None, partner: Partner, analysis: Any) -> Message:
        """A partner's 997/999/TA1: matched to what we sent; ``processed``, or ``unmatched`` with the reason."""
        assert self.reconciler is not None
        with log_context(partner_id=partner.id):
            self.acks.acknowledge(msg, partner, analysis, now=self.clock())  # a TA1 only if they asked for one
            result = self.reconciler.reconcile(msg, partner.id)
            self.failpoints.hit("inbound.after_reconcile")
            error = result.error()
            return self._finish(msg, item, MessageStatus.unmatched if error else MessageStatus.processed, error)

    def _finish(
        self,
        msg: Message,
        item: InboundItem | None,
        status: MessageStatus,
        error: GatewayError | None,
        batch: Batch | None = None,
    ) -> Message:
        """The last step: commit the source, then the final status with the step's events in ONE transaction."""
        batch = batch if batch is not None else Batch()
        self.failpoints.hit("inbound.before_commit")
        self._final_step(msg, item, status, error, batch)
        self.store.apply(batch)
        return msg

    def final(self, msg: Message, item: InboundItem | None, analysis: Any, batch: Batch) -> None:
        """An acknowledged message's last step into ``batch``: commit the source; acked, or failed (rejected)."""
        if analysis.valid:
            self._final_step(msg, item, MessageStatus.acked, None, batch)
        else:
            self._final_step(msg, item, MessageStatus.failed, rejection(analysis, self.quote_data), batch)

    def _final_step(
        self, msg: Message, item: InboundItem | None, status: MessageStatus, error: GatewayError | None, batch: Batch
    ) -> None:
        assert msg.id is not None
        self._commit(msg, item, error, batch)
        fields: dict[str, Any] = {"reason": None, "error": None}
        if error is not None:
            fields = {"reason": error.describe(), "error": error.to_dict()}
            log.warning(f"message.{status.value}", extra={"fields": {"reason": fields["reason"]}})
        else:
            log.info(f"message.{status.value}")
        batch.update(msg, event=f"message.{status.value}", status=status, detail=fields["error"], **fields)

    def _commit(
        self, msg: Message, item: InboundItem | None, error: BaseException | None, batch: Batch | None = None
    ) -> None:
        """Commit the source (move it to processed/ or failed/); its event goes into ``batch`` when given."""
        if item is None:
            return
        assert msg.id is not None
        item.ack(error)
        target = getattr(item, "committed", None)
        if target is not None:
            if batch is None:
                self.store.add_event(msg.id, "source.committed", detail={"to": str(target)})
            else:
                batch.event(msg.id, "source.committed", detail={"to": str(target)})


class BusyElsewhere(InvalidActionError):
    """Another live node holds the message's lease."""


_SUCCESS = frozenset({MessageStatus.acked, MessageStatus.processed, MessageStatus.duplicate})


def log_context_id() -> str | None:
    from gateway.logging import current_context

    return current_context().get("correlation_id")


def _channel_partner(msg: Message) -> str | None:
    """The partner owning the channel a message came in on ("partner/channel")."""
    return msg.channel.split("/", 1)[0] if msg.channel and "/" in msg.channel else None


def _already_failed(msg: Message) -> DocumentError:
    return DocumentError(msg.reason or f"message {msg.id} was {msg.status}")
