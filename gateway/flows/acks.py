"""Acknowledging inbound interchanges: build the 997/999/TA1, archive it and record it as an outbound message linked
to the message it acknowledges (:mod:`gateway.flows.ack_record`), and deliver it on the partner's outbound channel.

Produced once per inbound interchange: the outbound message's idempotency key is derived from the inbound message
and the interchange's position, so resuming or reprocessing a message never sends a second, different ack.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gateway.edi.x12 import AckOptions, Interchange, build_acknowledgement
from gateway.edi.x12.ack import ack_kind
from gateway.failpoints import FailPoints
from gateway.flows.ack_record import AckAnswer, AckRecorder, Answering
from gateway.flows.outbound import Delivers
from gateway.logging import get_logger
from gateway.partners.schema import AckPolicy, Partner
from gateway.settings import OwnIdentity
from gateway.store.archive import Archive
from gateway.store.batch import Batch
from gateway.store.models import Message, MessageStatus
from gateway.store.repository import Store

log = get_logger(__name__)


class StoreControlNumbers:
    """The engine's ControlNumbers protocol, backed by the store's atomic counters (one sequence per partner)."""

    def __init__(self, store: Store, scope: str) -> None:
        self.store = store
        self.scope = scope

    def next_interchange(self) -> int:
        return self.store.next_control_number(self.scope, "interchange")

    def next_group(self) -> int:
        return self.store.next_control_number(self.scope, "group")

    def next_transaction(self) -> int:
        return self.store.next_control_number(self.scope, "transaction")


class ReservedControlNumbers(StoreControlNumbers):
    """For one acknowledgement of a batch: its interchange (and group) number come from the numbers reserved for
    the batch in one transaction (:meth:`Store.reserve_control_numbers`); any further one is taken alone."""

    def __init__(self, store: Store, scope: str, reserved: dict[tuple[str, str], list[int]]) -> None:
        super().__init__(store, scope)
        self._reserved = reserved
        self._used: set[str] = set()

    def _next(self, kind: str) -> int:
        left = self._reserved.get((self.scope, kind))
        if kind not in self._used and left:
            self._used.add(kind)
            return left.pop(0)
        return self.store.next_control_number(self.scope, kind)

    def next_interchange(self) -> int:
        return self._next("interchange")

    def next_group(self) -> int:
        return self._next("group")


def ack_kind_and_result(interchange: Interchange, options: AckOptions) -> tuple[str, str]:
    """What our acknowledgement of ``interchange`` is ("997", "999", or "TA1" when no group can be answered) and
    its overall result: A accepted, E accepted with errors noted, P partially accepted, R rejected."""
    groups = [g for g in interchange.groups if g.enveloped and g.functional_id != "FA"]
    if interchange.fatal or not groups:
        return "TA1", "A" if interchange.valid else "R"
    kinds = sorted({ack_kind(g, interchange, options.functional_ack) for g in groups})
    statuses = [t.ack_status for g in groups for t in g.transactions]
    group_rejected = any(not g.valid and not g.transactions for g in groups)
    if "R" in statuses or group_rejected:
        result = "P" if "A" in statuses or "E" in statuses else "R"
    elif "E" in statuses or any(g.warnings for g in groups):
        result = "E"
    else:
        result = "A"
    return "+".join(kinds), result


class AckFlow:
    def __init__(
        self,
        *,
        store: Store,
        archive: Archive,
        outbound: Delivers,
        own: OwnIdentity,
        failpoints: FailPoints | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.outbound = outbound
        self.own = own
        self.failpoints = failpoints or FailPoints()
        self.recorder = AckRecorder(store=store, archive=archive, failpoints=self.failpoints)

    def acknowledge(
        self, msg: Message, partner: Partner, analysis: Any, *, now: datetime, batch: Batch | None = None
    ) -> list[Message]:
        """Build, record and deliver the acknowledgements of ``msg``. The ``ack.sent`` events on ``msg`` go into
        ``batch`` when one is given (the caller applies it with its next step), else are written here."""
        own = batch is None
        batch = Batch() if batch is None else batch
        produced = self.acknowledge_many([(msg, partner, analysis, batch)], now=now)[0]
        if own:
            self.store.apply(batch)
        return produced

    def acknowledge_many(
        self, works: Sequence[tuple[Message, Partner, Any, Batch]], *, now: datetime, fresh: bool = False
    ) -> list[list[Message]]:
        """:meth:`acknowledge` for a batch of messages, each with the batch its ``ack.sent`` events go into. The
        store work is per batch: one query for acknowledgements recorded before, one transaction for the control
        numbers of all new ones, one recording them all (after each is archived), then each is delivered.

        ``fresh``: the messages were created by the caller's batch a moment ago and are leased to it (the inbound
        batch), so none has an acknowledgement recorded yet: the query for them is skipped (the unique index on
        the idempotency key would still send a key recorded meanwhile down the one-by-one path)."""
        # a batch's files share a few policies (pydantic models, hashed to be compared) and their options:
        # each is worked out once per partner and set list, not once per acknowledgement
        policies: dict[tuple[int, tuple[tuple[str, str | None], ...]], AckPolicy] = {}
        options_of: dict[int, AckOptions] = {}
        wanted = [(w, ic, f"ack:{w[0].id}:{pos}", policy) for w in works
                  for pos, ic in enumerate(w[2].interchanges, start=1)
                  if (policy := _policy_memo(policies, w[1], ic)).send != "none"]
        found = {} if fresh else self.store.find_by_keys([key for _w, _ic, key, _p in wanted])
        plans = []
        count: Counter[tuple[str, str]] = Counter()
        for (msg, partner, _a, _b), ic, key, policy in wanted:
            if key not in found:
                options = options_of.get(id(policy))
                if options is None:
                    options = options_of[id(policy)] = _options_for(policy, now)
                kind, result = ack_kind_and_result(ic, options)
                count[(partner.id, "interchange")] += 1
                if kind != "TA1":
                    count[(partner.id, "group")] += 1
                plans.append((msg, partner, ic, key, options, AckAnswer(kind, result)))
        reserved = self.store.reserve_control_numbers(dict(count)) if count else {}
        todo = []
        for msg, partner, ic, key, options, answer in plans:
            numbers = ReservedControlNumbers(self.store, partner.id, reserved)
            data = build_acknowledgement(ic, control_numbers=numbers, options=options)
            if data:
                todo.append(Answering(msg, partner.id, key, data, answer))
        new = {a.key for a in todo}
        if todo:
            found.update((a.key, ack) for a, ack in zip(todo, self.recorder.record_many(todo), strict=True))
        produced: dict[int, list[Message]] = {}
        sent = Batch()  # every acknowledgement's delivery outcome: one transaction once all are sent
        delivering = []
        for (msg, partner, _a, batch), ic, key, _p in wanted:
            assert msg.id is not None
            ack = found.get(key)
            if ack is None:
                continue  # nothing to answer with
            if key not in new:
                self._relink(msg, partner, ic, ack, now)  # recorded before (a resumed message)
            assert ack.id is not None
            if ack.status not in (MessageStatus.sent, MessageStatus.delivered):
                ack = self.outbound.deliver(ack, partner, batch=sent)
                delivering.append((msg.id, ack, batch))
            produced.setdefault(msg.id, []).append(ack)
        self.store.apply(sent)
        for mid, ack, batch in delivering:
            if ack.status in (MessageStatus.sent, MessageStatus.delivered):
                batch.event(mid, "ack.sent", detail={"ack_message_id": ack.id, "file": ack.file_name})
        return [produced.get(w[0].id or 0, []) for w in works]

    # -- an ack recorded unlinked (before recording and linking were one transaction) --------------------------
    def _relink(self, msg: Message, partner: Partner, ic: Interchange, ack: Message, now: datetime) -> None:
        """Link an ack found by its key to ``msg`` if it is not linked yet."""
        assert msg.id is not None and ack.id is not None
        kind, result = ack_kind_and_result(ic, _options(partner, ic, now))
        self.recorder.relink(msg, ack, AckAnswer(kind, result))


def _options(partner: Partner, ic: Interchange, now: datetime) -> AckOptions:
    """How the engine builds our acknowledgement of ``ic``, from the partner's (or the document's) policy."""
    return _options_for(_policy(partner, ic), now)


def _options_for(policy: AckPolicy, now: datetime) -> AckOptions:
    return AckOptions(
        timestamp=now,
        functional_ack="auto" if policy.send == "auto" else policy.send,
        ta1={"on_request": "auto", "always": "always", "never": "never"}[policy.ta1],
    )


def _policy(partner: Partner, ic: Interchange) -> AckPolicy:
    """The partner's ack policy, or a document's own override when it covers every set in the interchange."""
    return partner.ack_policy_for((t.set_id, g.version) for g in ic.groups for t in g.transactions)


def _policy_memo(memo: dict[tuple[int, tuple[tuple[str, str | None], ...]], AckPolicy], partner: Partner,
                 ic: Interchange) -> AckPolicy:
    """:func:`_policy`, remembered in ``memo`` (one call's: its partners are alive, their ids stand for them).
    The key holds each distinct (set id, version) pair once (the policy depends on nothing else): a 100,000-set
    interchange's key was a tuple of 100,000 pairs, 7 MB kept beside its analysis until the 997 was built."""
    sets = tuple(dict.fromkeys((t.set_id, g.version) for g in ic.groups for t in g.transactions))
    key = (id(partner), sets)
    found = memo.get(key)
    if found is None:
        found = memo[key] = partner.ack_policy_for(sets)
    return found
