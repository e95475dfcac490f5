"""The AS2 outbound transport: a partner file's ``as2`` channel as an :class:`~gateway.transports.base.Outbound`.

``send(name, source)`` builds the AS2 message **once** (compressed, signed, encrypted as the partner file says),
archives the exact request (headers and body) and records the options it was built with
(:func:`gateway.as2.verdict.recorded_options`) as an :class:`As2Transmission`, then POSTs it. A later send of the
same outbound message on the same channel (a scheduled retry, an operator's resend) POSTs the archived bytes
again, same Message-ID (RFC 4130 sec. 5.5), and judges the MDN by the recorded options, as long as the partner
has not given a final answer to that transmission; after a final answer (delivered, rejected, HTTP 4xx) a send
builds a new message with the partner file as it is then.

The :class:`Receipt` says ``delivered`` (sync MDN positive with our MIC, or HTTP 2xx when no MDN was asked for)
or ``sent`` (an asynchronous MDN is awaited). A negative MDN, a MIC mismatch or an MDN that does not verify raise
:class:`PartnerRejected` / :class:`SecurityError` (permanent); network errors, timeouts, HTTP 5xx/429 raise
:class:`TransientTransportError` (retried by the outbound flow's retry policy). :class:`As2Receipts` applies
asynchronous MDNs when they arrive, marks overdue ones, and reconciles an MDN that overtook its own send.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from gateway.as2 import compat as _compat
from gateway.as2.mime import unframe
from gateway.as2.receive import As2Response
from gateway.as2.send import build_request, post_request, response_message
from gateway.as2.settings import As2OwnSettings, As2PartnerSettings
from gateway.as2.transmissions import RECONCILE_WINDOW, REUSABLE, MessageChange, Transmissions
from gateway.as2.verdict import MdnVerdict, judge_mdn, recorded_options
from gateway.errors import (
    GatewayError,
    PartnerRejected,
    PermanentTransportError,
    SecurityError,
    TransportError,
)
from gateway.failpoints import FailPoints
from gateway.flows import delivery_status as ds
from gateway.logging import get_logger
from gateway.store.archive import Archive
from gateway.store.models import As2Transmission, DeliveryStatus, MessageStatus
from gateway.store.models import As2TransmissionState as State
from gateway.store.repository import Store
from gateway.transports.base import Capability, Receipt, ReceiptOutcome, check_name, current_delivery

_compat.install()
from pyas2lib import as2 as pyas2  # noqa: E402

log = get_logger(__name__)

CurrentPartner = Callable[[], As2PartnerSettings | None]
READ_CHUNK = 1024 * 1024


class Unavailable:
    """An AS2 channel that cannot be used (AS2 not configured here, a certificate that cannot be read): every send
    fails permanently with the reason, so the message shows why instead of waiting silently."""

    capabilities = frozenset({Capability.send})

    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        self.reason = reason

    def send(self, name: str, source: BinaryIO) -> Receipt:
        check_name(name)
        raise PermanentTransportError(f"AS2 channel {self.channel} cannot send: {self.reason}")


class As2Outbound:
    """One partner's AS2 channel. ``partner`` gives the channel's *current* settings (URL, credentials, TLS and,
    for new builds, signing/encryption); what a built message expects back comes from its record."""

    capabilities = frozenset({Capability.send, Capability.synchronous_receipt})

    def __init__(
        self,
        *,
        channel: str,
        partner: As2PartnerSettings,
        own: As2OwnSettings,
        org: Any,
        store: Store,
        archive: Archive,
        clock: Callable[[], datetime],
        failpoints: FailPoints | None = None,
    ) -> None:
        self.channel = channel
        self.failpoints = failpoints or FailPoints()
        self.partner = partner
        self.own = own
        self.org = org
        self.store = store
        self.archive = archive
        self.clock = clock
        self.log = Transmissions(store)

    def send(self, name: str, source: BinaryIO) -> Receipt:
        check_name(name)
        payload = _read(source, self.own.max_payload_bytes)
        sha = hashlib.sha256(payload).hexdigest()
        message_id = current_delivery()
        key = f"message:{message_id}:{self.channel}" if message_id is not None else f"send:{self.channel}:{name}:{sha}"
        tx = self.log.latest(key)
        if tx is None or tx.state not in REUSABLE or tx.payload_sha256 != sha:
            tx = self._build(payload, name, sha, key, message_id)
        return self._attempt(tx)

    # -- building ---------------------------------------------------------------------------------------------
    def _build(self, payload: bytes, name: str, sha: str, key: str, message_id: int | None) -> As2Transmission:
        built, blob = build_request(
            payload,
            own=self.own,
            org=self.org,
            partner=self.partner,
            archive=self.archive,
            filename=name,
            subject=name,
            field=f"partners.{self.partner.id}.channels.{self.channel.split('/')[-1]}",
            hint="check the channel's certificates and algorithms, and identity.as2_* in config/gateway.yaml",
        )
        options = recorded_options(self.partner, self.own, built)
        tx = As2Transmission(
            message_id=message_id,
            channel=self.channel,
            delivery_key=key,
            as2_message_id=built.message_id,
            request_archive_key=blob.key,
            payload_sha256=sha,
            options=options,
            state=str(State.built),
        )
        public = {k: v for k, v in options.items() if k != "mdn_verify_certificates"}
        tx = self.log.create(
            tx,
            event=("as2.built", {"as2_message_id": built.message_id, "request_archive_key": blob.key, **public}),
        )
        log.info("as2.built", extra={"fields": {"as2_message_id": built.message_id, "channel": self.channel}})
        return tx

    # -- one attempt --------------------------------------------------------------------------------------------
    def _attempt(self, tx: As2Transmission) -> Receipt:
        assert tx.id is not None
        opts = tx.options or {}
        headers, body = unframe(self.archive.read_bytes(tx.request_archive_key))
        self.failpoints.hit("as2.before_post")  # built and recorded, not sent: the next attempt sends these bytes
        self.log.attempting(tx.id)
        target = self.partner
        if opts.get("mdn") == "sync":  # the partner answers with the MDN: wait as long as the channel allows
            target = replace(target, timeout=max(target.mdn_timeout, target.timeout))
        try:
            response = post_request(target, headers, body)
        except TransportError as exc:
            state = State.retrying if exc.transient else State.failed
            self.log.set_state(tx.id, state, only_from=REUSABLE, last_error=exc.describe())
            raise
        self.failpoints.hit("as2.after_post")  # the partner has it, its answer is not recorded: resent as is
        receipt_detail: dict[str, object] = {"as2_message_id": tx.as2_message_id, "http_status": response.status_code}
        if opts.get("mdn") == "none":
            self.log.set_state(tx.id, State.delivered, only_from=REUSABLE)
            return Receipt(tx.as2_message_id, receipt_detail, ReceiptOutcome.delivered)
        if opts.get("mdn") == "async":
            due = self.clock() + timedelta(seconds=float(opts.get("mdn_timeout") or 3600))
            if not self.log.set_state(tx.id, State.awaiting_mdn, only_from=REUSABLE, mdn_due_at=due):
                return self._already_judged(self.log.get(tx.id), receipt_detail)  # the MDN overtook the answer
            return Receipt(tx.as2_message_id, {**receipt_detail, "mdn": "async", "due": due.isoformat()})
        raw = response_message(response)
        verdict = judge_mdn(raw, tx.as2_message_id, opts, extra_certificates=self.partner.signing_certificates)
        As2Receipts(store=self.store, archive=self.archive, clock=self.clock).record(tx, raw, verdict, apply=False)
        if verdict.outcome == "delivered":
            return Receipt(tx.as2_message_id, {**receipt_detail, **_public(verdict)}, ReceiptOutcome.delivered)
        raise verdict_error(verdict)

    def _already_judged(self, tx: As2Transmission, detail: dict[str, object]) -> Receipt:
        if tx.state == State.delivered:
            return Receipt(tx.as2_message_id, detail, ReceiptOutcome.delivered)
        raise PartnerRejected(tx.last_error or "the partner's MDN rejected the message")


def verdict_error(verdict: MdnVerdict) -> GatewayError:
    """A verdict other than delivered as the permanent error the outbound flow records."""
    why = verdict.reason or "the MDN was not positive"
    if verdict.outcome == "rejected":
        return PartnerRejected(why, hint="see the MDN on the message's timeline; fix, then resend")
    return SecurityError(
        why,
        ack_code="authentication-failed",
        hint="check the partner's signing certificates; the MDN is archived on the message's timeline",
    )


def _public(verdict: MdnVerdict) -> dict[str, object]:
    return {k: v for k, v in verdict.facts.items() if k in ("mdn_status", "mdn_signed", "mic", "mic_alg", "duplicate")}


def _read(source: BinaryIO, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = source.read(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise PermanentTransportError(f"the document is larger than the AS2 payload limit of {limit} bytes")
        chunks.append(chunk)


class As2Receipts:
    """MDNs for transmissions: record them (archived, linked, on the timeline), apply asynchronous ones to the
    outbound message, mark overdue ones, and reconcile an MDN that arrived before its own send was recorded."""

    def __init__(
        self,
        *,
        store: Store,
        archive: Archive,
        clock: Callable[[], datetime],
        current_certificates: Callable[[As2Transmission], tuple[bytes, ...]] = lambda _tx: (),
    ) -> None:
        self.store = store
        self.archive = archive
        self.clock = clock
        self.log = Transmissions(store)
        self.current_certificates = current_certificates

    def record(self, tx: As2Transmission, raw: bytes, verdict: MdnVerdict, *, apply: bool, blob: Any = None) -> None:
        """Archive the MDN and record it; with ``apply``, also set the outbound message's statuses (async MDNs,
        when the message is not in the middle of a send: see :func:`_applicable`).

        An asynchronous MDN that cannot be verified (bad or missing signature, unreadable) arrived on an
        unauthenticated endpoint: it is kept and shown (``mdn.unusable``) but changes nothing, or anyone could fail
        our messages with a forged negative MDN. The message keeps waiting (and becomes ``mdn_overdue``)."""
        blob = blob or self.archive.put_bytes(raw)
        untrusted = apply and verdict.outcome == "unusable"
        judged = State.delivered if verdict.outcome == "delivered" else State.rejected
        state = State(tx.state) if untrusted else judged
        facts = {**verdict.facts, "archive_key": blob.key, "as2_message_id": tx.as2_message_id}
        if verdict.reason:
            facts["reason"] = verdict.reason
        change = None
        if apply and not untrusted and tx.message_id is not None and _applicable(self.store.get(tx.message_id).status):
            change = change_for(verdict, facts)
        self.log.record_mdn(
            tx,
            state=state,
            mdn_fields={
                "partner_id": (tx.channel or "").split("/")[0] or None,
                "channel": tx.channel,
                "transport_id": verdict.mdn_message_id,
                "file_name": f"MDN-{tx.as2_message_id}.mdn"[:200],
                "size": blob.size,
                "sha256": blob.sha256,
                "archive_key": blob.key,
            },
            result=f"{verdict.status}: {verdict.detail}" if verdict.detail else verdict.status,
            facts=facts,
            change=change,
            event="mdn.unusable" if untrusted else "mdn.received",
        )
        if untrusted:
            fields = {"as2_message_id": tx.as2_message_id, "reason": verdict.reason}
            log.warning("mdn.unusable", extra={"fields": fields})
        log.info("mdn.recorded", extra={"fields": {"as2_message_id": tx.as2_message_id, "outcome": verdict.outcome}})

    def handle_async(self, raw: bytes, original_id: str) -> As2Response | None:
        """An asynchronous MDN POSTed to /as2 for one of our transmissions; None when ``original_id`` is not one."""
        tx = self.log.by_as2_message_id(original_id)
        if tx is None:
            return None
        blob = self.archive.put_bytes(raw)  # archive first
        verdict = judge_mdn(raw, tx.as2_message_id, tx.options or {}, extra_certificates=self.current_certificates(tx))
        self.record(tx, raw, verdict, apply=True, blob=blob)
        if verdict.outcome == "unusable":
            why = (verdict.reason or "the MDN could not be verified") + "\n"
            return As2Response(200, {"Content-Type": "text/plain"}, why.encode(), tx.message_id, "unusable")
        return As2Response(200, {}, b"", tx.message_id, verdict.outcome)

    def check_overdue(self) -> list[int]:
        """Transmissions whose asynchronous MDN is past due: ``overdue``, and their message ``mdn_overdue``."""
        now = self.clock()
        done = []
        for tx in self.log.awaiting_past(now):
            assert tx.id is not None
            if not self.log.set_state(tx.id, State.overdue, only_from=[State.awaiting_mdn]):
                continue
            if tx.message_id is None:
                continue
            msg = self.store.get(tx.message_id)
            if msg.status == MessageStatus.sent and msg.transport_id == tx.as2_message_id:
                due = tx.mdn_due_at.isoformat() if tx.mdn_due_at else "its due time"
                self.store.update(
                    tx.message_id,
                    event="mdn.overdue",
                    status=MessageStatus.mdn_overdue,
                    reason=f"no asynchronous MDN for {tx.as2_message_id} received by {due}",
                    detail={"as2_message_id": tx.as2_message_id},
                )
                done.append(tx.message_id)
        return done

    def reconcile(self) -> list[int]:
        """An async MDN judged while its message was still being sent: apply it now."""
        done = []
        for tx in self.log.judged_since(self.clock() - RECONCILE_WINDOW):
            assert tx.message_id is not None
            msg = self.store.get(tx.message_id)
            if msg.transport_id != tx.as2_message_id or msg.status not in (
                MessageStatus.sent,
                MessageStatus.mdn_overdue,
            ):
                continue
            last = next((e for e in reversed(self.store.events(tx.message_id)) if e.name == "mdn.received"), None)
            facts = dict(last.detail or {}) if last else {}
            ok = tx.state == State.delivered
            verdict = MdnVerdict("delivered" if ok else "rejected", None, None, None if ok else tx.last_error, facts)
            self.log.apply(tx.message_id, change_for(verdict, facts))
            done.append(tx.message_id)
        return done

    def sweep(self) -> dict[str, list[int]]:
        """Scheduler job: overdue MDNs, then MDNs to reconcile."""
        return {"overdue": self.check_overdue(), "reconciled": self.reconcile()}


def _applicable(status: str) -> bool:
    """An async MDN changes the message unless a send of it is in progress (``queued``: the flow is sending it
    now and records the outcome itself) or it is already final. ``retrying``/``dead`` messages take it: the
    partner got the message after all."""
    return status in (MessageStatus.sent, MessageStatus.mdn_overdue, MessageStatus.retrying, MessageStatus.dead)


def change_for(verdict: MdnVerdict, facts: dict[str, Any]) -> MessageChange:
    if verdict.outcome == "delivered":
        return MessageChange(
            "message.delivered", MessageStatus.delivered, DeliveryStatus.delivered, None, None, facts
        )
    err = verdict_error(verdict)
    status, delivery = ds.after_error(False)
    return MessageChange("message.rejected", status, delivery, err.describe(), err.to_dict(), facts)


def original_message_id(raw: bytes) -> str | None:
    """The Original-Message-ID an MDN answers (None when ``raw`` is not an MDN)."""
    from email import message_from_bytes

    probe = pyas2.Mdn()
    try:
        probe.payload = message_from_bytes(raw)
        orig, _rcpt = probe.detect_mdn()
    except Exception:  # not an MDN: the legacy handler answers it
        return None
    return str(orig) if orig else None


