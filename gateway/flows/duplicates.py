"""Duplicate interchanges inbound: the same sender and ISA13 within the partner's window (default one year), or the
very same bytes (sha256), received before.

A duplicate is not processed again: no second canonical record, no second hand-off, no second 997/999 as a
business acknowledgement. When the partner asked for a TA1 (ISA14 = 1, or ``acknowledgements.ta1: always``), a TA1
with note code 025 (duplicate interchange control number) answers it, recorded as every acknowledgement is
(:mod:`gateway.flows.ack_record`: linked to the duplicate, with its statuses, in one transaction). The message
ends ``duplicate`` with the original's id in its reason; an operator can force a reprocess (``reprocess --force``),
recorded with the actor.

"Seen before" means an earlier inbound message that was not itself failed, quarantined or a duplicate: a file that
failed may be sent again (the RFC 4130 rule for AS2 Message-IDs, applied to interchanges).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, select

from gateway.edi.x12 import Interchange as AnalysedInterchange
from gateway.edi.x12.ack_read import control_variants
from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.writer import Envelope, WriterOptions, write_interchange
from gateway.failpoints import FailPoints
from gateway.flows.ack_record import AckAnswer, AckRecorder
from gateway.flows.acks import StoreControlNumbers
from gateway.flows.outbound import Delivers
from gateway.logging import get_logger
from gateway.partners.schema import Partner
from gateway.store.archive import Archive
from gateway.store.db import reader
from gateway.store.models import Direction, Interchange, Message, MessageStatus
from gateway.store.repository import Store

log = get_logger(__name__)

DUPLICATE_TA1 = AckAnswer("TA1", "R", note="025")  # interchange rejected: duplicate interchange control number
M = Message.__table__  # type: ignore[attr-defined]
ISA = Interchange.__table__  # type: ignore[attr-defined]
NOT_SEEN = (MessageStatus.failed, MessageStatus.quarantined, MessageStatus.duplicate)


# earlier messages from ``oldest`` on, before ``newest``: the two queries of DuplicateCheck.find_many, built once
# (one per batch of files; building them cost as much as running). Whether a row was seen (inbound, not failed,
# quarantined or a duplicate: :func:`_seen`) is tested on the rows found: given in SQL, it made SQLite's planner (no
# statistics) walk every inbound message through the direction index instead of looking the batch's few control
# numbers and hashes up in theirs, for every batch, a cost growing with the table
_WINDOW = and_(
    M.c.id < bindparam("newest"),
    M.c.created_at >= bindparam("oldest", type_=M.c.created_at.type),
)
_NOT_SEEN = frozenset(st.value for st in NOT_SEEN)
BY_CONTROL = (
    select(ISA.c.control_number, ISA.c.sender_id, ISA.c.sender_qualifier, M.c.id, M.c.file_name, M.c.created_at,
           M.c.direction, M.c.status)
    .join(M, M.c.id == ISA.c.message_id)
    .where(ISA.c.control_number.in_(bindparam("controls", expanding=True)), _WINDOW)
    .order_by(M.c.id)
)
BY_SHA = (
    select(M.c.sha256, M.c.id, M.c.file_name, M.c.created_at, M.c.direction, M.c.status)
    .where(M.c.sha256.in_(bindparam("shas", expanding=True)), _WINDOW)
    .order_by(M.c.id)
)


def _seen(row: Any) -> bool:
    """An inbound message that was not failed, quarantined or a duplicate (what an interchange or bytes sent again
    duplicate)."""
    return bool(row.direction == Direction.inbound.value and row.status is not None
                and row.status not in _NOT_SEEN)


@dataclass(frozen=True, slots=True)
class Duplicate:
    original_id: int
    reason: str
    by: str  # "interchange" | "content"
    control_number: str | None = None


class DuplicateCheck:
    def __init__(
        self,
        *,
        store: Store,
        archive: Archive,
        outbound: Delivers,
        clock: Callable[[], datetime],
        failpoints: FailPoints | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.outbound = outbound
        self.clock = clock
        self.recorder = AckRecorder(store=store, archive=archive, failpoints=failpoints)

    def find(self, msg: Message, partner: Partner, analysis: Any) -> Duplicate | None:
        """The earlier message ``msg`` duplicates, if any."""
        return self.find_many([(msg, partner, analysis)])[0]

    def find_many(self, works: Sequence[tuple[Message, Partner, Any]]) -> list[Duplicate | None]:
        """:meth:`find` for a batch of messages: one query for every interchange control number of the batch (and
        one for the bytes, when a partner checks content), matched here per message (earlier messages only, within
        each partner's window)."""
        if not works:
            return []
        now = self.clock()
        since = {id(w): now - w[1].duplicates.window for w in works}
        seen = {"oldest": min(since.values()), "newest": max(w[0].id or 0 for w in works)}
        controls = {v for w in works for ic in w[2].interchanges if ic.control_number.strip()
                    for v in control_variants(ic.control_number)}
        by_control: dict[str, list[Any]] = {}
        shas = {w[0].sha256 for w in works if w[1].duplicates.by_content}
        by_sha: dict[str, list[Any]] = {}
        with reader(self.store.engine) as conn:  # no transaction: reads only (a round trip less each way)
            if controls:
                for row in conn.execute(BY_CONTROL, {"controls": sorted(controls), **seen}):
                    if _seen(row):
                        by_control.setdefault(row.control_number, []).append(row)
            if shas:
                for same in conn.execute(BY_SHA, {"shas": sorted(s for s in shas if s), **seen}):
                    if _seen(same):
                        by_sha.setdefault(same.sha256, []).append(same)
        return [self._match(w, since[id(w)], by_control, by_sha) for w in works]

    def _match(self, work: tuple[Message, Partner, Any], since: datetime, by_control: dict[str, list[Any]],
               by_sha: dict[str, list[Any]]) -> Duplicate | None:
        msg, partner, analysis = work
        assert msg.id is not None

        def earlier(row: Any) -> bool:
            return bool(row.id < msg.id and _aware(row.created_at) >= since)

        for ic in analysis.interchanges:
            if not ic.control_number.strip():
                continue
            rows = [r for v in control_variants(ic.control_number) for r in by_control.get(v, ())]
            for row in sorted(rows, key=lambda r: r.id):
                if earlier(row) and (row.sender_id or "").strip() == ic.sender_id.strip() and (
                    row.sender_qualifier or ""
                ).strip() == ic.sender_qualifier.strip():
                    return Duplicate(
                        row.id,
                        f"duplicate interchange: sender {ic.sender_qualifier.strip()}/{ic.sender_id.strip()} "
                        f"already sent ISA13 {ic.control_number.strip()} in message {row.id} "
                        f"({row.file_name or 'no file name'}, {row.created_at:%Y-%m-%d %H:%M} UTC)",
                        "interchange",
                        ic.control_number.strip(),
                    )
        if partner.duplicates.by_content:
            same = next((r for r in by_sha.get(msg.sha256 or "", ()) if earlier(r)), None)
            if same is not None:
                return Duplicate(
                    same.id,
                    f"duplicate content: the same bytes (sha256 {msg.sha256[:12]}...) were received in message "
                    f"{same.id} ({same.file_name or 'no file name'}, {same.created_at:%Y-%m-%d %H:%M} UTC)",
                    "content",
                )
        return None

    def answer(self, msg: Message, partner: Partner, analysis: Any, dup: Duplicate) -> Message | None:
        """A TA1 with note 025 for each interchange whose sender asked for one (or always, per partner file)."""
        assert msg.id is not None
        sent = None
        for pos, ic in enumerate(analysis.interchanges, start=1):
            policy = partner.ack_policy_for((t.set_id, g.version) for g in ic.groups for t in g.transactions)
            wanted = policy.ta1 == "always" or (policy.ta1 == "on_request" and ic.ack_requested)
            if not wanted or not ic.enveloped or not ic.control_number.strip().isdigit():
                continue
            key = f"ack-duplicate:{msg.id}:{pos}"
            ack = self.store.find_by_key(key)
            if ack is None:
                ack = self._build(msg, partner, ic, key)
            else:
                self.recorder.relink(msg, ack, DUPLICATE_TA1)
            if ack.status not in (MessageStatus.sent, MessageStatus.delivered):
                ack = self.outbound.deliver(ack, partner)
            sent = ack
        return sent

    def _build(self, msg: Message, partner: Partner, ic: AnalysedInterchange, key: str) -> Message:
        assert msg.id is not None
        now = self.clock()
        control = StoreControlNumbers(self.store, partner.id).next_interchange()
        d = ic.delimiters if ic.delimiters is not None and not ic.delimiters.problems() else Delimiters()
        envelope = Envelope(
            sender_qualifier=ic.receiver_qualifier.strip() or "ZZ",
            sender_id=ic.receiver_id.strip() or "UNKNOWN",
            receiver_qualifier=ic.sender_qualifier.strip() or "ZZ",
            receiver_id=ic.sender_id.strip() or "UNKNOWN",
            date=now.strftime("%Y%m%d"),
            time=now.strftime("%H%M"),
            interchange_control=control,
            version=ic.version if ic.version.isdigit() else "00401",
            usage=ic.usage if ic.usage in ("P", "T") else "P",
        )
        ta1 = ["TA1", ic.control_number.strip().zfill(9), ic.date, ic.time, "R", "025"]
        data = write_interchange(envelope, [], WriterOptions(delimiters=d), interchange_acks=[ta1])
        return self.recorder.record(msg, partner.id, key, data, DUPLICATE_TA1)


def _aware(at: datetime) -> datetime:
    """A timestamp read back by Core (SQLite gives naive UTC values) compared with the clock's aware ones."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
