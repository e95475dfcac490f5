"""The overdue-acknowledgement job: outbound documents whose partner's 997/999 did not arrive by ``ack_due_at``.

Each due document is claimed (see :func:`gateway.store.reconciliation.claim_overdue`: safe with several nodes),
marked ``overdue`` with an ``ack.overdue`` event, and then, per the partner document's policy
(``ack.on_overdue``): ``alert`` calls the notification hook and leaves the document on the worklist; ``resend``
delivers the same archived bytes again (at most ``ack.max_resends`` times, event ``ack.resent``) and waits another
``expect_ack_within``; once the resends are used up it alerts. A crash after the claim loses at most that
notification or resend: the document stays ``overdue`` on the worklist (at most once, never twice). A late
acknowledgement still reconciles: the document's status becomes what the acknowledgement says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.failpoints import FailPoints
from gateway.flows.notify import notify as default_notify
from gateway.flows.outbound import Delivers
from gateway.logging import get_logger, log_context
from gateway.partners.schema import AckPolicy, Partner
from gateway.store.models import AckStatus, Message, MessageStatus
from gateway.store.reconciliation import claim_overdue, count_events
from gateway.store.repository import Store

log = get_logger(__name__)
RESENT = "ack.resent"


@dataclass(frozen=True, slots=True)
class OverdueResult:
    alerted: list[int]
    resent: list[int]


def document_policy(partner: Partner | None, msg: Message) -> AckPolicy | None:
    """The acknowledgement policy of the partner document an outbound message carries (first set id)."""
    if partner is None:
        return None
    for set_id in (msg.set_ids or "").split(","):
        doc = partner.document(set_id.strip(), "outbound")
        if doc is not None:
            return doc.ack or partner.acknowledgements
    return partner.acknowledgements


class OverdueAcks:
    def __init__(
        self,
        *,
        store: Store,
        outbound: Delivers,
        partner: Callable[[str], Partner | None],
        clock: Callable[[], datetime],
        failpoints: FailPoints | None = None,
        notify: Callable[..., None] | None = None,
        announce: Callable[..., Any] | None = None,
    ) -> None:
        self.store = store
        self.outbound = outbound
        self.partner = partner
        self.clock = clock
        self.notify = notify or default_notify
        self.announce = announce  # announce(message_id, "overdue"): the hand-off of acknowledgement outcomes
        self.failpoints = failpoints or FailPoints()

    def run(self) -> OverdueResult:
        """Scheduler job: claim and handle every document whose acknowledgement is overdue."""
        now = self.clock()
        alerted: list[int] = []
        resent: list[int] = []
        for msg in claim_overdue(self.store, now=now):
            assert msg.id is not None
            # a crash here leaves the document overdue and on the worklist, never resent twice
            self.failpoints.hit("ack.overdue.after_claim")
            with log_context(message_id=msg.id, partner_id=msg.partner_id):
                partner = self.partner(msg.partner_id or "")
                policy = document_policy(partner, msg)
                done = count_events(self.store, msg.id, RESENT)
                if (partner is not None and policy is not None and policy.on_overdue == "resend"
                        and done < policy.max_resends and policy.expect_ack_within is not None):
                    self._resend(msg, partner, policy, done + 1, now)
                    resent.append(msg.id)
                    continue
                self.notify("ack.overdue", message_id=msg.id, partner_id=msg.partner_id, file=msg.file_name,
                       set_ids=msg.set_ids, due=msg.ack_due_at.isoformat() if msg.ack_due_at else None,
                       resends=done)
                if self.announce is not None:
                    self.announce(msg.id, "overdue")
                alerted.append(msg.id)
        return OverdueResult(alerted, resent)

    def _resend(self, msg: Message, partner: Partner, policy: AckPolicy, attempt: int, now: datetime) -> None:
        assert msg.id is not None and policy.expect_ack_within is not None
        due = now + policy.expect_ack_within
        self.store.update(
            msg.id, event=RESENT, status=MessageStatus.queued, ack_status=AckStatus.waiting.value, ack_due_at=due,
            detail={"resend": attempt, "of": policy.max_resends, "ack_due_at": due.isoformat()},
        )
        log.info("ack.resent", extra={"fields": {"resend": attempt}})
        self.outbound.deliver(self.store.get(msg.id), partner)
