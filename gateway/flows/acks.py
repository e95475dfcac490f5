"""Acknowledging inbound interchanges: build the 997/999/TA1, archive it and record it as an outbound message linked
to the message it acknowledges (:mod:`gateway.flows.ack_record`), and deliver it on the partner's outbound channel.

Produced once per inbound interchange: the outbound message's idempotency key is derived from the inbound message
and the interchange's position, so resuming or reprocessing a message never sends a second, different ack.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.edi.x12 import AckOptions, Interchange, build_acknowledgement
from gateway.edi.x12.ack import ack_kind
from gateway.failpoints import FailPoints
from gateway.flows.ack_record import AckAnswer, AckRecorder
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


class AckControlNumbers(StoreControlNumbers):
    """For one functional acknowledgement: the first number asked for takes the interchange and group numbers
    together in one transaction (a 997 of one group needs exactly these; set numbers are counted inside each group);
    any further one is taken alone. A TA1 alone (``groups=False``) takes only its interchange number."""

    def __init__(self, store: Store, scope: str, *, groups: bool) -> None:
        super().__init__(store, scope)
        self._groups = groups
        self._taken: dict[str, int] | None = None

    def _next(self, kind: str) -> int:
        if self._taken is None and self._groups:
            self._taken = self.store.next_control_numbers(self.scope, ("interchange", "group"))
        got = self._taken.pop(kind, None) if self._taken else None
        return got if got is not None else self.store.next_control_number(self.scope, kind)

    def next_interchange(self) -> int:
        return self._next("interchange")

    def next_group(self) -> int:
        return self._next("group")

    def next_transaction(self) -> int:
        return self._next("transaction")


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
        assert msg.id is not None
        own = batch is None
        batch = Batch() if batch is None else batch
        produced = []
        for pos, ic in enumerate(analysis.interchanges, start=1):
            if _policy(partner, ic).send == "none":
                continue
            key = f"ack:{msg.id}:{pos}"
            ack = self.store.find_by_key(key)
            if ack is None:
                ack = self._build(msg, partner, ic, key, now)
                if ack is None:
                    continue
            else:
                self._relink(msg, partner, ic, ack, now)
            assert ack.id is not None
            if ack.status not in (MessageStatus.sent, MessageStatus.delivered):
                ack = self.outbound.deliver(ack, partner)
                if ack.status in (MessageStatus.sent, MessageStatus.delivered):
                    batch.event(msg.id, "ack.sent", detail={"ack_message_id": ack.id, "file": ack.file_name})
            produced.append(ack)
        if own:
            self.store.apply(batch)
        return produced

    def _build(self, msg: Message, partner: Partner, ic: Interchange, key: str, now: datetime) -> Message | None:
        assert msg.id is not None
        options = _options(partner, ic, now)
        kind, result = ack_kind_and_result(ic, options)
        numbers = AckControlNumbers(self.store, partner.id, groups=kind != "TA1")
        data = build_acknowledgement(ic, control_numbers=numbers, options=options)
        if not data:
            return None
        return self.recorder.record(msg, partner.id, key, data, AckAnswer(kind, result))

    # -- an ack recorded unlinked (before recording and linking were one transaction) --------------------------
    def _relink(self, msg: Message, partner: Partner, ic: Interchange, ack: Message, now: datetime) -> None:
        """Link an ack found by its key to ``msg`` if it is not linked yet."""
        assert msg.id is not None and ack.id is not None
        kind, result = ack_kind_and_result(ic, _options(partner, ic, now))
        self.recorder.relink(msg, ack, AckAnswer(kind, result))


def _options(partner: Partner, ic: Interchange, now: datetime) -> AckOptions:
    """How the engine builds our acknowledgement of ``ic``, from the partner's (or the document's) policy."""
    policy = _policy(partner, ic)
    return AckOptions(
        timestamp=now,
        functional_ack="auto" if policy.send == "auto" else policy.send,
        ta1={"on_request": "auto", "always": "always", "never": "never"}[policy.ta1],
    )


def _policy(partner: Partner, ic: Interchange) -> AckPolicy:
    """The partner's ack policy, or a document's own override when it covers every set in the interchange."""
    return partner.ack_policy_for((t.set_id, g.version) for g in ic.groups for t in g.transactions)

