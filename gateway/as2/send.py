"""Sending AS2 messages and tracking their MDNs.

:func:`build` is pure (payload + settings -> the exact HTTP headers and body, with the MIC we expect back).
:class:`As2Sender` records the outbound message, archives the built request once and POSTs those same bytes on
every attempt, so a transient failure is retried with the **same Message-ID** (RFC 4130 sec. 5.5).

A message is ``delivered`` only on a positive MDN whose signature verifies and whose MIC matches ours (or on
HTTP 2xx when no MDN was asked for). A negative MDN is a partner rejection (``failed``, not retried); network
errors, timeouts, HTTP 5xx and 429 are transient (``retrying``); other HTTP errors are permanent (``failed``).
With an asynchronous MDN the message stays ``sent`` until the MDN arrives on ``POST /as2``;
:meth:`As2Sender.check_overdue` marks those past the partner's ``mdn_timeout`` ``mdn_overdue``.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message as email_message
from email import message_from_bytes
from typing import Any

import httpx
from sqlmodel import col, select

from gateway.as2 import compat as _compat
from gateway.as2.mime import fold_header_block, frame, unframe
from gateway.as2.receive import As2Response
from gateway.as2.settings import As2OwnSettings, As2PartnerSettings, organization, outbound_partner
from gateway.errors import (
    AuthenticationError,
    ConfigError,
    GatewayError,
    Location,
    PartnerRejected,
    PermanentTransportError,
    SecurityError,
    TransientTransportError,
)
from gateway.logging import get_logger, log_context
from gateway.store.archive import Archive
from gateway.store.models import AS2_OUT, SENT, Direction, Message, MessageStatus
from gateway.store.repository import Store

_compat.install()
from pyas2lib import as2 as pyas2  # noqa: E402
from pyas2lib.cms import compress_message  # noqa: E402
from pyas2lib.exceptions import AS2Exception, ImproperlyConfigured  # noqa: E402
from pyas2lib.utils import mime_to_bytes  # noqa: E402

log = get_logger(__name__)

PartnerLookup = Callable[[str], As2PartnerSettings | None]


@dataclass(frozen=True, slots=True)
class BuiltMessage:
    message_id: str
    headers: dict[str, str]
    body: bytes
    mic: str | None  # base64 MIC we expect in the MDN (signed messages)
    mic_alg: str | None


def dashed(alg: str) -> str:
    """RFC 5751 names (``sha-256``) for partners that want them; pyas2lib writes RFC 3851 names (``sha256``)."""
    return alg.replace("sha", "sha-", 1) if alg.startswith("sha") and not alg.startswith("sha-") else alg


def build(
    payload: bytes,
    *,
    own: As2OwnSettings,
    org: Any,
    partner: As2PartnerSettings,
    filename: str | None,
    subject: str = "AS2 message",
    message_id: str | None = None,
) -> BuiltMessage:
    """Compress (before or after signing), sign, encrypt, as the partner's settings say."""
    receiver = outbound_partner(partner)
    after = partner.compress == "after_signing"
    fold = partner.fold_headers and partner.encrypt
    if after or fold:
        receiver.encrypt = False
    msg = pyas2.Message(sender=org, receiver=receiver)
    ctype = partner.content_type
    msg.build(
        payload,
        filename=filename,
        subject=subject,
        content_type=ctype,
        disposition_notification_to=own.email,
        message_id=message_id,
    )
    if after or fold:
        msg = _wrap(msg, partner, compress=after, fold=partner.fold_headers)
    headers = {k: v for k, v in msg.headers.items()}
    if partner.algorithm_naming == "dashed":
        for k, v in headers.items():
            if k.lower() in ("content-type", "disposition-notification-options") and msg.digest_alg:
                headers[k] = v.replace(msg.digest_alg, dashed(msg.digest_alg))
    body = msg.content if isinstance(msg.content, bytes) else b""
    return BuiltMessage(
        message_id=msg.message_id,
        headers=headers,
        body=body,
        mic=msg.mic.decode() if msg.mic else None,
        mic_alg=msg.digest_alg,
    )


def _wrap(msg: Any, partner: As2PartnerSettings, *, compress: bool, fold: bool) -> Any:
    """Compress (RFC 5402 'compress after signing': the signed MIME entity) and/or encrypt what pyas2lib built
    unencrypted. ``fold``: the header block of each entity put under compression or encryption is folded at 76
    columns (RFC 5322); the headers under the signature are left as signed."""
    from pyas2lib.cms import encrypt_message

    as2_headers = {
        k: v for k, v in msg.payload.items() if not k.lower().startswith("content-") and k.lower() != "mime-version"
    }
    outer = msg.payload
    for k in as2_headers:
        del outer[k]
    if compress:
        compressed = email_message.Message()
        compressed.set_type("application/pkcs7-mime")
        compressed.set_param("name", "smime.p7z")
        compressed.set_param("smime-type", "compressed-data")
        compressed.add_header("Content-Disposition", "attachment", filename="smime.p7z")
        compressed.add_header("Content-Transfer-Encoding", "binary")
        compressed.set_payload(compress_message(_entity_bytes(outer, fold)))
        del compressed["MIME-Version"]
        outer = compressed
        msg.compressed = True
    if partner.encrypt:
        enveloped = email_message.Message()
        enveloped.set_type("application/pkcs7-mime")
        enveloped.set_param("name", "smime.p7m")
        enveloped.set_param("smime-type", "enveloped-data")
        enveloped.add_header("Content-Disposition", "attachment", filename="smime.p7m")
        enveloped.add_header("Content-Transfer-Encoding", "binary")
        cert = outbound_partner(partner).load_encrypt_cert()
        enveloped.set_payload(encrypt_message(_entity_bytes(outer, fold), partner.encryption_algorithm, cert))
        outer = enveloped
        msg.encrypted, msg.enc_alg = True, partner.encryption_algorithm
    for k, v in as2_headers.items():
        outer.add_header(k, v)
    del outer["MIME-Version"]
    msg.payload = outer
    return msg


def _entity_bytes(part: Any, fold: bool) -> bytes:
    data = mime_to_bytes(part)
    if not fold:
        return data
    head, sep, rest = data.partition(b"\r\n\r\n")
    return fold_header_block(head) + sep + rest


def build_request(
    payload: bytes,
    *,
    own: As2OwnSettings,
    org: Any,
    partner: As2PartnerSettings,
    archive: Archive,
    filename: str,
    subject: str,
    field: str,
    hint: str,
) -> tuple[BuiltMessage, Any]:
    """Build the request (see :func:`build`) and archive it framed (headers + body, sent again as is on every
    attempt); returns the message and the archive blob. A message that cannot be built is a ConfigError naming
    ``field`` (the partner's AS2 settings), with ``hint``."""
    try:
        built = build(payload, own=own, org=org, partner=partner, filename=filename, subject=subject)
    except (ImproperlyConfigured, AS2Exception, ValueError) as exc:
        raise ConfigError(
            f"cannot build an AS2 message for partner {partner.id}: {exc}", location=Location(field=field), hint=hint
        ) from exc
    return built, archive.put_bytes(frame(built.headers, built.body))


def response_message(response: httpx.Response) -> bytes:
    """A synchronous answer (the MDN) as one MIME document: the HTTP headers, an empty line, the body."""
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in response.headers.items()) + b"\r\n" + response.content


def post_request(partner: As2PartnerSettings, headers: dict[str, str], body: bytes) -> httpx.Response:
    """POST an AS2 request to the partner's URL (their current URL, basic auth and TLS settings). Network errors,
    timeouts, HTTP 5xx and 429 are transient; other HTTP errors permanent."""
    if not partner.url:
        raise PermanentTransportError(f"partner {partner.id} has no AS2 url", hint="set the partner's as2.url")
    auth = None
    if partner.basic_auth_user is not None:
        auth = httpx.BasicAuth(partner.basic_auth_user, partner.basic_auth_password or "")
    verify: Any = partner.verify_tls
    if partner.client_certificate is not None:
        verify = ssl.create_default_context()
        if not partner.verify_tls:
            verify.check_hostname = False
            verify.verify_mode = ssl.CERT_NONE
        with tempfile.NamedTemporaryFile(suffix=".pem") as f:  # ssl loads certificate chains from files only
            f.write(partner.client_certificate)
            f.flush()
            verify.load_cert_chain(f.name)
    try:
        with httpx.Client(timeout=partner.timeout, verify=verify, auth=auth) as client:
            r = client.post(partner.url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise TransientTransportError(f"AS2 POST to {partner.url} timed out: {exc}") from exc
    except httpx.HTTPError as exc:
        raise TransientTransportError(f"AS2 POST to {partner.url} failed: {type(exc).__name__}: {exc}") from exc
    if r.status_code >= 500 or r.status_code == 429:
        raise TransientTransportError(f"AS2 POST to {partner.url}: HTTP {r.status_code}")
    if r.status_code in (401, 403):
        raise AuthenticationError(
            f"AS2 POST to {partner.url}: HTTP {r.status_code}: the partner's server refused our credentials",
            hint="check basic_auth_user/basic_auth_password (or the client certificate) of the partner's as2 channel",
        )
    if not r.is_success:
        raise PermanentTransportError(f"AS2 POST to {partner.url}: HTTP {r.status_code} {r.text[:200]!r}")
    return r


def awaiting_async_mdn(store: Store) -> list[Message]:
    """Messages of :meth:`As2Sender.send` sent and awaiting an asynchronous MDN. Read through
    ``ix_message_as2_awaiting`` (``SENT``, ``AS2_OUT``: literals repeating its condition), not every message sent:
    a folder, SFTP or webhook channel's documents stay ``sent`` for good."""
    with store.session() as s:
        q = select(Message).where(Message.direction == Direction.outbound, Message.status == SENT,
                                  col(Message.idempotency_key).like(AS2_OUT))
        # SQLite's LIKE ignores case: the prefix exactly
        return [m for m in s.exec(q).all() if (m.idempotency_key or "").startswith("as2-out:")]


class As2Sender:
    def __init__(
        self,
        *,
        store: Store,
        archive: Archive,
        own: As2OwnSettings,
        partners: PartnerLookup,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.archive = archive
        self.own = own
        self.org = organization(own)
        self.partners = partners
        self.clock = clock

    # -- sending ---------------------------------------------------------------------------------------------
    def send(
        self, payload: bytes, partner: As2PartnerSettings, *, filename: str, subject: str = "AS2 message"
    ) -> Message:
        """Record, build and archive the message once, then make the first attempt."""
        built, rblob = build_request(
            payload,
            own=self.own,
            org=self.org,
            partner=partner,
            archive=self.archive,
            filename=filename,
            subject=subject,
            field=f"partners.{partner.id}.as2",
            hint="check the partner's certificates and algorithms",
        )
        pblob = self.archive.put_bytes(payload)
        msg, _ = self.store.create_message(
            direction=Direction.outbound,
            status=MessageStatus.queued,
            partner_id=partner.id,
            channel=f"{partner.id}/as2",
            transport_id=built.message_id,
            idempotency_key=f"as2-out:{partner.as2_id}:{built.message_id}",
            file_name=filename,
            content_type=partner.content_type,
            size=pblob.size,
            sha256=pblob.sha256,
            archive_key=pblob.key,
            events=[
                ("message.queued", MessageStatus.queued, {"sha256": pblob.sha256, "size": pblob.size}),
                (
                    "as2.built",
                    None,
                    {
                        "request_archive_key": rblob.key,
                        "mic": built.mic,
                        "mic_alg": built.mic_alg,
                        "as2_message_id": built.message_id,
                        "mdn": partner.mdn,
                    },
                ),
            ],
        )
        assert msg.id is not None
        return self.attempt(msg.id)

    def attempt(self, message_id: int) -> Message:
        """POST the archived request (same bytes, same Message-ID) and apply the answer."""
        msg = self.store.get(message_id)
        assert msg.id is not None and msg.partner_id is not None
        built = self._built(msg.id)
        partner = self._partner_for(msg)
        headers, body = unframe(self.archive.read_bytes(built["request_archive_key"]))
        with log_context(message_id=msg.id, partner_id=msg.partner_id):
            self.store.update(
                msg.id,
                event="as2.attempt",
                status=MessageStatus.sending,
                detail={"url": partner.url, "as2_message_id": msg.transport_id},
            )
            try:
                response = self._post(partner, headers, body)
            except (TransientTransportError, PermanentTransportError) as exc:
                status = MessageStatus.retrying if exc.transient else MessageStatus.failed
                log.warning("as2.send_failed", extra={"fields": {"error": exc.message}})
                return self.store.update(
                    msg.id,
                    event="as2.send_failed",
                    status=status,
                    reason=exc.describe(),
                    error=exc.to_dict(),
                    detail=exc.to_dict(),
                )
            if partner.mdn == "none":
                return self.store.update(
                    msg.id,
                    event="message.delivered",
                    status=MessageStatus.delivered,
                    reason=None,
                    error=None,
                    detail={"http_status": response.status_code},
                )
            if partner.mdn == "async":
                due = self.clock() + timedelta(seconds=partner.mdn_timeout)
                return self.store.update(
                    msg.id,
                    event="mdn.awaited",
                    status=MessageStatus.sent,
                    reason=None,
                    error=None,
                    detail={"due": due.isoformat(), "http_status": response.status_code},
                )
            return self._apply_mdn(msg, response_message(response), built, partner)

    def _post(self, partner: As2PartnerSettings, headers: dict[str, str], body: bytes) -> httpx.Response:
        return post_request(partner, headers, body)

    # -- MDNs --------------------------------------------------------------------------------------------------
    def handle_mdn(self, raw: bytes, headers: dict[str, str]) -> As2Response:
        """An asynchronous MDN POSTed to /as2: archive it, find our message, apply it. Never a 500: an MDN that
        cannot be used is recorded (a failed inbound message with the reason) and answered with 200 or 400."""
        blob = self.archive.put_bytes(raw)
        probe = pyas2.Mdn()
        try:
            probe.payload = message_from_bytes(raw)
            orig_id, _rcpt = probe.detect_mdn()
        except Exception as exc:
            why = f"not an MDN: {exc}"
            return self._unusable_mdn(blob, headers, why, 400)
        msg = self._by_transport_id(orig_id or "")
        if msg is None:
            return self._unusable_mdn(blob, headers, f"MDN for a message we did not send: {orig_id}", 200)
        assert msg.id is not None
        self.store.add_event(msg.id, "mdn.received", detail={"archive_key": blob.key, "mode": "async"})
        try:
            updated = self._apply_mdn(msg, raw, self._built(msg.id), self._partner_for(msg))
        except GatewayError as exc:
            self.store.add_event(msg.id, "mdn.unusable", detail=exc.to_dict())
            return self._unusable_mdn(blob, headers, exc.describe(), 200)
        return As2Response(200, {}, b"", msg.id, updated.status)

    def _unusable_mdn(self, blob: Any, headers: dict[str, str], why: str, code: int) -> As2Response:
        err = SecurityError(why, hint="the MDN is archived; check the sender's AS2 settings")
        msg, _ = self.store.create_message(
            direction=Direction.inbound,
            status=MessageStatus.failed,
            channel="as2",
            transport_id=(headers.get("message-id") or "").strip("<> ") or None,
            document_format="mdn",
            content_type=headers.get("content-type"),
            size=blob.size,
            sha256=blob.sha256,
            archive_key=blob.key,
            reason=err.describe(),
            error=err.to_dict(),
            events=[("mdn.unusable", MessageStatus.failed, err.to_dict())],
        )
        log.warning("mdn.unusable", extra={"fields": {"reason": why, "message_id": msg.id}})
        return As2Response(code, {"Content-Type": "text/plain"}, why.encode() + b"\n", msg.id, "unusable")

    def _apply_mdn(self, msg: Message, raw: bytes, built: dict[str, Any], partner: As2PartnerSettings) -> Message:
        from gateway.as2.verdict import judge_mdn  # verdict imports this module's types

        assert msg.id is not None
        mblob = self.archive.put_bytes(raw)
        expected = {
            "as2_to": partner.as2_id,
            "mdn": built.get("mdn") or partner.mdn,
            "mdn_signed": partner.mdn_signed,
            "signature_algorithm": partner.signature_algorithm,
            "mic": built.get("mic"),
            "mic_alg": built.get("mic_alg"),
        }
        verdict = judge_mdn(raw, msg.transport_id or "", expected, extra_certificates=partner.signing_certificates)
        status, detail = verdict.status, verdict.detail
        mdn_msg, _ = self.store.create_message(
            direction=Direction.inbound,
            status=MessageStatus.processed,
            partner_id=msg.partner_id,
            channel=msg.channel,
            transport_id=verdict.mdn_message_id,
            file_name=f"MDN-for-{msg.id}.mdn",
            document_format="mdn",
            size=mblob.size,
            sha256=mblob.sha256,
            archive_key=mblob.key,
            events=[("mdn.received", MessageStatus.processed, {"status": status, "detail": detail})],
        )
        assert mdn_msg.id is not None
        self.store.link_ack(
            message_id=msg.id, ack_message_id=mdn_msg.id, kind="MDN", result=f"{status}: {detail}" if detail else status
        )
        facts = {k: v for k, v in verdict.facts.items() if not k.startswith("expected_")}
        if verdict.outcome == "delivered":
            log.info("message.delivered")
            return self.store.update(
                msg.id, event="message.delivered", status=MessageStatus.delivered, reason=None, error=None, detail=facts
            )
        if verdict.outcome == "rejected":
            return self._rejected(msg, verdict.reason or "negative MDN", facts)
        # the MDN itself is unusable (bad signature, unsigned when signed was asked, unreadable): whether the
        # partner got the message is unknown, so this is not a partner rejection
        err = SecurityError(
            verdict.reason or "the MDN could not be accepted",
            ack_code="authentication-failed",
            hint="check the partner's signing certificates; the MDN is archived on the message's timeline",
        )
        return self._rejected(msg, err.message, facts, err)

    def _rejected(self, msg: Message, why: str, facts: dict[str, Any], err: GatewayError | None = None) -> Message:
        assert msg.id is not None
        err = err or PartnerRejected(why, hint="see the MDN on the message's timeline; fix, then send a new message")
        log.warning("message.rejected", extra={"fields": {"reason": why}})
        return self.store.update(
            msg.id,
            event="message.rejected",
            status=MessageStatus.failed,
            reason=err.describe(),
            error=err.to_dict(),
            detail=facts,
        )

    def check_overdue(self) -> list[int]:
        """Messages still waiting for an async MDN past their due time become ``mdn_overdue``."""
        now = self.clock()
        overdue = []
        for msg in awaiting_async_mdn(self.store):
            assert msg.id is not None
            awaited = [e for e in self.store.events(msg.id) if e.name == "mdn.awaited"]
            if not awaited or not awaited[-1].detail:
                continue
            if datetime.fromisoformat(awaited[-1].detail["due"]) <= now:
                self.store.update(
                    msg.id,
                    event="mdn.overdue",
                    status=MessageStatus.mdn_overdue,
                    reason=f"no asynchronous MDN received by {awaited[-1].detail['due']}",
                )
                overdue.append(msg.id)
        return overdue

    def retry_due(self, *, max_attempts: int = 10) -> list[int]:
        """Attempt every AS2 message left ``retrying`` again (same bytes, same Message-ID); past ``max_attempts``
        attempts a message is ``dead``. Run from a periodic job."""
        with self.store.session() as s:
            q = select(Message).where(Message.direction == Direction.outbound, Message.status == MessageStatus.retrying)
            rows = [m for m in s.exec(q).all() if (m.idempotency_key or "").startswith("as2-out:")]
        done = []
        for msg in rows:
            assert msg.id is not None
            attempts = sum(1 for e in self.store.events(msg.id) if e.name == "as2.attempt")
            if attempts >= max_attempts:
                self.store.update(
                    msg.id,
                    event="message.dead",
                    status=MessageStatus.dead,
                    reason=f"{attempts} attempts failed; last: {msg.reason}",
                )
                continue
            if self.attempt(msg.id).status == MessageStatus.delivered:
                done.append(msg.id)
        return done

    # -- helpers -----------------------------------------------------------------------------------------------
    def _built(self, message_id: int) -> dict[str, Any]:
        for e in reversed(self.store.events(message_id)):
            if e.name == "as2.built" and e.detail:
                return e.detail
        raise PermanentTransportError(f"message {message_id} was never built for AS2")

    def _partner_for(self, msg: Message) -> As2PartnerSettings:
        partner = self.partners(msg.partner_id or "")
        if partner is None:
            raise PermanentTransportError(f"partner {msg.partner_id!r} has no AS2 settings any more")
        return partner

    def _by_transport_id(self, transport_id: str) -> Message | None:
        with self.store.session() as s:
            q = select(Message).where(Message.transport_id == transport_id, Message.direction == Direction.outbound)
            return s.exec(q).first()
