"""Sending business documents: internal systems submit canonical records, the gateway writes the partner's X12,
validates it, archives it, records it and delivers it.

Every intake (``POST /api/documents``, the per-partner outbox folder, ``gateway send``, a broker later) is a thin
adapter over :meth:`DocumentFlow.submit`, which takes bytes and says nothing about how they came. The steps, each
one transaction, each followed by a fail point:

1. **archive** the submission as received, record the message (``archived``, events ``message.received`` and
   ``message.archived``) -- fail point ``outbound.after_archive``;
2. **build**: read the records from the archived copy, let the partner file pick set/version/mapping, take
   control numbers, write the interchange, validate it with our own validator; invalid -> ``failed`` with
   validation ``invalid`` and every problem (JSON path + X12 element); valid -> archive the X12 and record it with
   its lineage, business keys, statuses and the submission as an output (``queued``) -- fail point
   ``outbound.after_build``;
3. **deliver** through the outbound flow with retries (every outbound channel, AS2 included) -- the outbound flow
   has ``outbound.after_send``.

A crash at any step resumes once: the message is claimed (``processing`` / ``sending``) with a lease (owner node
and until when, :mod:`gateway.store.leases`; renewed by the node's heartbeat while the step runs), and
:meth:`recover` (at start, and on a sweep) takes messages whose lease ran out. A build that crashed after taking
control numbers builds again with new ones: gaps are allowed, numbers are never reused.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from uuid import uuid4

from gateway.canonical import RECORD_TYPES
from gateway.edi.x12 import analyze
from gateway.errors import GatewayError, InvalidActionError, NotFoundError
from gateway.failpoints import FailPoints
from gateway.flows import compose
from gateway.flows.compose import Group, Problem, Refused
from gateway.flows.outbound import Delivers
from gateway.logging import get_logger, log_context
from gateway.mapping.spec import load_overrides
from gateway.mapping.x12 import RECORD_OF_SET
from gateway.partners.registry import PartnerRegistry
from gateway.partners.schema import Partner
from gateway.settings import OwnIdentity
from gateway.store.archive import Archive
from gateway.store.leases import MessageLeases, claim_step
from gateway.store.models import (
    AckStatus,
    DeliveryStatus,
    Direction,
    Message,
    MessageStatus,
    OutputKind,
    ValidationStatus,
)
from gateway.store.repository import Store
from gateway.store.steps import Step

log = get_logger(__name__)
LEASE = timedelta(minutes=2)  # default: a claimed step not finished within this is anyone's (the process died)
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv", "xml": "application/xml"}


class IdempotencyConflict(InvalidActionError):
    """The same idempotency key came with another body."""


@dataclass(slots=True)
class Submitted:
    """What a submit answers: the message, whether it is new, and its validation problems."""

    message: Message
    created: bool
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.message.validation_status == ValidationStatus.valid


class DocumentFlow:
    def __init__(
        self,
        *,
        store: Store,
        archive: Archive,
        registry: Callable[[], PartnerRegistry],
        outbound: Delivers,
        own: OwnIdentity,
        clock: Callable[[], datetime],
        failpoints: FailPoints | None = None,
        mappings_root: Path | None = None,
        overrides_dir: Path | None = None,
        lease: timedelta = LEASE,
        leases: MessageLeases | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.registry = registry
        self.outbound = outbound
        self.own = own
        self.clock = clock
        self.failpoints = failpoints or FailPoints()
        self.mappings_root = mappings_root
        self.overrides_dir = overrides_dir
        self.lease = lease
        self.leases = leases or MessageLeases(store.engine, lease=lease)
        self._override_cache: dict[str, tuple[tuple[int, int] | None, dict[str, Any]]] = {}

    # -- 1. archive and record ----------------------------------------------------------------------------------
    def submit(
        self,
        body: BinaryIO | bytes,
        *,
        partner_id: str,
        content_type: str | None = None,
        set_id: str | None = None,
        version: str | None = None,
        idempotency_key: str | None = None,
        actor: str = "gateway",
        source: str = "api",
        file_name: str | None = None,
        deliver: bool = True,
    ) -> Submitted:
        """Take a submission for ``partner_id``; returns once it is built (and delivered, unless ``deliver`` is
        false or the channel is down: retries follow the partner's ``retry:``)."""
        partner = self._partner(partner_id)
        fp: BinaryIO = _as_stream(body)
        head = fp.read(4096)
        fmt = compose.submission_format(content_type, head)
        blob = self.archive.put_stream(_Replay(head, fp))  # type: ignore[arg-type]  # read() is all it needs
        key = f"submit:{partner.id}:{idempotency_key}" if idempotency_key else f"submit:{partner.id}:{uuid4()}"
        options = {"set_id": set_id, "version": version}
        msg, created = self.store.create_message(
            direction=Direction.outbound,
            status=MessageStatus.archived,
            partner_id=partner.id,
            channel=f"{partner.id}/{source}",
            idempotency_key=key,
            file_name=file_name or f"submission.{fmt}",
            content_type=CONTENT_TYPES[fmt],
            document_format=fmt,
            size=blob.size,
            sha256=blob.sha256,
            archive_key=blob.key,
            validation_status=None,
            delivery_status=DeliveryStatus.pending.value,
            actor=actor,
            **self.leases.fields(),  # leased to this node from the start: no other node's recovery takes it
            events=[
                ("message.received", MessageStatus.received,
                 {"source": source, "submission_sha256": blob.sha256, "size": blob.size, "format": fmt, **options}),
                ("message.archived", MessageStatus.archived, {"archive_key": blob.key}),
            ],
        )
        assert msg.id is not None
        if created:
            self.leases.adopt(msg.id)
            try:
                return self._submitted(msg, created, blob.sha256, idempotency_key, deliver)
            finally:
                self._let_go(msg.id)
        return self._submitted(msg, created, blob.sha256, idempotency_key, deliver)

    def _submitted(self, msg: Message, created: bool, sha256: str, idempotency_key: str | None,
                   deliver: bool) -> Submitted:
        assert msg.id is not None
        if not created:
            received = next((e for e in self.store.events(msg.id) if e.name == "message.received"), None)
            sha = (received.detail or {}).get("submission_sha256") if received else None
            if sha != sha256:
                raise IdempotencyConflict(
                    f"the idempotency key {idempotency_key!r} was used for another body (message {msg.id})",
                    hint="use a new key for a new submission; resend the same body to get the same answer",
                )
            log.info("document.repeated", extra={"fields": {"message_id": msg.id}})
        self.failpoints.hit("outbound.after_archive")
        msg = self.run(msg, deliver=deliver)
        return Submitted(msg, created, list((msg.error or {}).get("problems", [])))

    def run(self, msg: Message, *, deliver: bool = True) -> Message:
        """Take ``msg`` as far as it goes: build if not built, then deliver if not delivered."""
        assert msg.id is not None
        if msg.status in (MessageStatus.archived, MessageStatus.processing):
            msg = self.build(msg)
        if deliver and msg.status in (MessageStatus.queued, MessageStatus.sending):
            msg = self.deliver(msg)
        return msg

    # -- 2. build -----------------------------------------------------------------------------------------------
    def build(self, msg: Message) -> Message:
        assert msg.id is not None and msg.archive_key is not None
        if not self._claim(msg.id, [MessageStatus.archived], MessageStatus.processing):
            return self.store.get(msg.id)  # another worker has it, or it is built already
        try:
            return self._build_claimed(msg)
        finally:
            self._let_go(msg.id)

    def _claim(self, message_id: int, from_statuses: list[MessageStatus], to: MessageStatus) -> bool:
        return claim_step(self.store, self.leases, message_id, from_statuses, to, self.lease)  # renewed until let go

    def _let_go(self, message_id: int) -> None:
        try:
            self.leases.release(message_id)
        except GatewayError:
            log.warning("document.lease_not_released", extra={"fields": {"message_id": message_id}})
        except Exception:  # the store is down: the lease runs out by itself
            log.warning("document.lease_not_released", extra={"fields": {"message_id": message_id}})

    def _build_claimed(self, msg: Message) -> Message:
        assert msg.id is not None and msg.archive_key is not None
        with log_context(message_id=msg.id, partner_id=msg.partner_id):
            partner = self.registry().get(msg.partner_id or "")
            if partner is None:
                return self._invalid(msg, [Problem("$", f"partner {msg.partner_id!r} is no longer configured")])
            options = next((e.detail or {} for e in self.store.events(msg.id) if e.name == "message.received"), {})
            fmt = str(msg.document_format or "json")
            key = msg.archive_key

            def source(keys: list[tuple[str, str]] | None = None) -> Iterator[tuple[str, Any]]:
                with self.archive.open(key) as fp:
                    yield from compose.read_records(fp, fmt, name=msg.file_name or "submission", keys=keys)

            try:
                return self._build(msg, partner, source, options.get("set_id"), options.get("version"))
            except Refused as exc:
                return self._invalid(msg, exc.problems, exc.unused)

    def _build(self, msg: Message, partner: Partner, source: Callable[..., Iterator[tuple[str, Any]]],
               set_id: str | None, version: str | None) -> Message:
        assert msg.id is not None
        problems: list[Problem] = []
        groups: dict[tuple[str, str], Group] = {}
        chosen: dict[str, Any] = {}
        keys: dict[tuple[str, str], None] = {}
        found: list[tuple[str, str]] = []
        for where, data in source(found):
            if found and len(keys) < 10_000:
                keys.update(dict.fromkeys(found))
            found.clear()
            if isinstance(data, list):
                problems.extend(data)
                continue
            kind = str(data["type"])
            if kind not in chosen:
                try:
                    chosen[kind] = compose.choose_document(partner, kind, set_id=set_id, version=version, where=where)
                except Refused as exc:
                    chosen[kind] = exc
            doc = chosen[kind]
            if isinstance(doc, Refused):
                problems.extend(Problem(where, p.message, p.x12, p.code) for p in doc.problems)
                continue
            groups.setdefault((doc.set_id, doc.version), Group(doc.set_id, doc.version)).records.append(where)
        if not problems and not groups:
            problems.append(Problem("$", "the submission holds no record", code="empty"))
        if problems:
            raise Refused(problems)
        plan = list(groups.values())
        docs = [chosen[k] for k in chosen]
        if any(d.format == "csv" for d in docs):
            return self._build_csv(msg, partner, source, plan, docs, list(keys))
        version0 = plan[0].version
        env, gs_sender, gs_receiver = compose.envelope_for(partner, self.own, version0)
        overrides = self._overrides(partner)
        isa13 = self.store.next_control_number(partner.id, "interchange")
        gs06 = [self.store.next_control_number(partner.id, "group") for _ in plan]
        now = self.clock()
        with tempfile.TemporaryFile() as out:
            try:
                written = compose.write_x12(out, source, plan, env=env, gs_ids=(gs_sender, gs_receiver),
                                            interchange=isa13, group_numbers=gs06, date=now.strftime("%Y%m%d"),
                                            time=now.strftime("%H%M"), overrides=overrides,
                                            root=self.mappings_root)
            except Refused as exc:
                raise _gap(exc, isa13, gs06) from None
            out.seek(0)
            analysis = analyze(out, file="(output)")
            if not analysis.valid:
                explained = compose.explain(analysis, source, plan, gs06, overrides=overrides, root=self.mappings_root)
                raise _gap(Refused(explained or [Problem("$", "the output is not valid X12")]), isa13, gs06)
            out.seek(0)
            blob = self.archive.put_stream(out)
        set_ids = [g.set_id for g in plan]
        control = f"{isa13:09d}"
        default = partner.acknowledgements.expect_ack_within  # the partner's default for what we send
        within = [w for d in docs if (w := (d.ack.expect_ack_within if d.ack else None) or default)]
        ack_fields: dict[str, Any] = {"ack_status": AckStatus.not_expected.value, "ack_due_at": None}
        if within:
            ack_fields = {"ack_status": AckStatus.waiting.value, "ack_due_at": now + min(within)}
        submission = (OutputKind.canonical.value if msg.document_format == "json" else str(msg.document_format),
                      _blob(msg), msg.content_type, msg.file_name)
        built = self.store.step(msg.id, Step(
            status=MessageStatus.queued,
            fields={
                "archive_key": blob.key, "sha256": blob.sha256, "size": blob.size,
                "file_name": f"{partner.id}-{'-'.join(dict.fromkeys(set_ids))}-{control}.x12",
                "content_type": "application/edi-x12", "document_format": "x12",
                "set_ids": ",".join(dict.fromkeys(set_ids)), "reason": None, "error": None,
                "validation_status": ValidationStatus.valid.value, "delivery_status": DeliveryStatus.pending.value,
                **ack_fields,
            },
            events=[("document.built", MessageStatus.queued, {
                "interchange": control, "groups": [str(n) for n in gs06], "sets": written.transactions,
                "segments": written.segments, "versions": sorted({g.version for g in plan}),
                "ack_due_at": ack_fields["ack_due_at"].isoformat() if ack_fields["ack_due_at"] else None,
                "ack_within_seconds": min(within).total_seconds() if within else None,
            })],
            lineage=[written.lineage],
            keys=list(keys),
            outputs=[submission],
        ))
        log.info("document.built", extra={"fields": {"interchange": control, "sets": written.transactions}})
        self.failpoints.hit("outbound.after_build")
        return built

    def _build_csv(self, msg: Message, partner: Partner, source: Callable[..., Iterator[tuple[str, Any]]],
                   plan: list[Group], docs: list[Any], keys: list[tuple[str, str]]) -> Message:
        """A partner taking the document as CSV: the records as the CSV of their type (one file per submission)."""
        assert msg.id is not None
        if len(plan) != 1 or len(docs) != 1:
            raise Refused([Problem("$", "a CSV document holds one record type: submit each type on its own",
                                   code="csv")])
        from gateway.mapping.csvio import write_csv  # pandas: imported only for a CSV partner

        kind = RECORD_OF_SET[plan[0].set_id]
        with tempfile.TemporaryFile() as out:
            text = io.TextIOWrapper(out, encoding="utf-8", newline="")
            rows = write_csv((RECORD_TYPES[kind].model_validate(d) for _w, d in source() if isinstance(d, dict)),
                             text, kind)
            text.flush()
            text.detach()
            out.seek(0)
            blob = self.archive.put_stream(out)
        now = self.clock()
        name = f"{partner.id}-{plan[0].set_id}-{now.strftime('%Y%m%d%H%M%S')}-{msg.id}.csv"
        submission = (OutputKind.canonical.value if msg.document_format == "json" else str(msg.document_format),
                      _blob(msg), msg.content_type, msg.file_name)
        return self.store.step(msg.id, Step(
            status=MessageStatus.queued,
            fields={"archive_key": blob.key, "sha256": blob.sha256, "size": blob.size, "file_name": name,
                    "content_type": "text/csv", "document_format": "csv", "set_ids": plan[0].set_id,
                    "reason": None, "error": None, "validation_status": ValidationStatus.valid.value,
                    "delivery_status": DeliveryStatus.pending.value, "ack_status": AckStatus.not_expected.value,
                    "ack_due_at": None},
            events=[("document.built", MessageStatus.queued, {"format": "csv", "rows": rows,
                                                               "records": len(plan[0].records)})],
            keys=keys,
            outputs=[submission],
        ))

    def _invalid(self, msg: Message, problems: list[Problem], unused: dict[str, Any] | None = None) -> Message:
        assert msg.id is not None
        listed = [p.to_dict() for p in problems[:1000]]
        first = problems[0].describe() if problems else "invalid"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        log.warning("document.invalid", extra={"fields": {"problems": len(problems)}})
        return self.store.step(msg.id, Step(
            status=MessageStatus.failed,
            fields={"validation_status": ValidationStatus.invalid.value, "delivery_status": None,
                    "ack_status": None, "reason": f"not sent: {first}{more}",
                    "error": {"type": "DocumentInvalid", "problems": listed, "count": len(problems)}},
            events=[("document.invalid", MessageStatus.failed, {
                "problems": listed[:50], "count": len(problems),
                **({"unused_control_numbers": unused} if unused else {}),
            })],
        ))

    # -- 3. deliver ---------------------------------------------------------------------------------------------
    def deliver(self, msg: Message) -> Message:
        assert msg.id is not None
        if not self._claim(msg.id, [MessageStatus.queued], MessageStatus.sending):
            return self.store.get(msg.id)
        try:
            partner = self.registry().get(msg.partner_id or "")
            if partner is None:
                return self.store.update(msg.id, event="delivery.dead", status=MessageStatus.dead,
                                         delivery_status=DeliveryStatus.dead.value,
                                         reason=f"partner {msg.partner_id!r} is no longer configured")
            return self.outbound.deliver(self.store.get(msg.id), partner)
        finally:
            self._let_go(msg.id)

    # -- recovery -----------------------------------------------------------------------------------------------
    def recover(self, *, startup: bool = False) -> int:
        """Resume submissions a crash (or a stopped node) left unfinished: build or deliver them, once.

        At start (``startup``) a submission left ``archived`` or ``queued`` is taken at once; the periodic sweep
        takes only those untouched for the lease (a request on another node may be about to take them) and
        claimed steps whose lease ran out. Claims are atomic, so two nodes never both build or send one message.
        """
        count = 0
        now = self.clock()
        elsewhere = self.leases.elsewhere()  # the node registry asked once per sweep
        for msg in self.store.unfinished(Direction.outbound):
            if not (msg.idempotency_key or "").startswith("submit:"):
                continue
            if elsewhere(msg, now):
                continue  # a live node works on it (its heartbeat renews the lease)
            idle = msg.updated_at is None or msg.updated_at <= now - self.lease
            expired = msg.lease_owner is not None or idle  # held by no live node (checked above): the claim decides
            waiting = msg.status in (MessageStatus.archived, MessageStatus.queued)
            if (waiting and (startup or idle)) or (
                msg.status in (MessageStatus.processing, MessageStatus.sending) and expired
            ):
                try:
                    self.run(msg)
                    count += 1
                except GatewayError:
                    log.exception("document.recover_failed", extra={"fields": {"message_id": msg.id}})
        return count

    # -- helpers ------------------------------------------------------------------------------------------------
    def _partner(self, partner_id: str) -> Partner:
        partner = self.registry().get(partner_id)
        if partner is None:
            raise NotFoundError(f"no partner {partner_id!r}", hint="see GET /api/partners or `gateway partners list`")
        return partner

    def _overrides(self, partner: Partner) -> dict[str, Any]:
        """The partner's ``<id>.mapping.yaml``, read again only when the file changed."""
        if self.overrides_dir is None:
            return {}
        path = self.overrides_dir / f"{partner.id}.mapping.yaml"
        try:
            stamp: tuple[int, int] | None = (path.stat().st_mtime_ns, path.stat().st_size)
        except OSError:
            stamp = None
        cached = self._override_cache.get(partner.id)
        if cached is None or cached[0] != stamp:
            cached = (stamp, load_overrides(path) if stamp is not None else {})
            self._override_cache[partner.id] = cached
        return cached[1]


def _gap(exc: Refused, isa13: int, gs06: list[int]) -> Refused:
    """Control numbers taken for a document that was not sent: noted on the timeline, so the gap is visible."""
    exc.unused = {"interchange": f"{isa13:09d}", "groups": [str(n) for n in gs06]}
    return exc


def _blob(msg: Message) -> Any:
    from gateway.store.archive import Blob

    assert msg.archive_key is not None
    return Blob(key=msg.archive_key, size=msg.size)


def _as_stream(body: BinaryIO | bytes) -> BinaryIO:
    import io

    return io.BytesIO(body) if isinstance(body, bytes | bytearray) else body


class _Replay:
    """``head`` then the rest of ``fp`` (what archive.put_stream reads)."""

    def __init__(self, head: bytes, fp: BinaryIO) -> None:
        self.head, self.fp = head, fp

    def read(self, n: int = -1) -> bytes:
        if self.head:
            out, self.head = self.head, b""
            return out
        return self.fp.read(n)
