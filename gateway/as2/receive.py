"""Receiving AS2 messages (RFC 4130): raw HTTP bytes + headers in, a stored result and the HTTP answer out.

Order of work for every POST: the whole request (headers and body) is archived and recorded first; then the
partner is found from AS2-From/AS2-To, the body decrypted, decompressed (bounded: a zip bomb stops at
``max_payload_bytes``) and its signature verified with the partner's current or rollover certificate; the
payload is archived and handed to ``deliver`` (the inbound flow); only then the MDN is built, archived, linked
to the message (``AckLink`` kind ``MDN``) and returned (sync) or queued for delivery (async).

Policy violations and bad messages never raise: they end in a negative MDN (signed when the partner asked for
signed receipts) and a ``failed``/``quarantined`` message with the reason. Duplicates (RFC 4130 sec. 5.5): a
Message-ID whose original was processed gets the original MDN again and is not processed twice; one whose
original failed is processed as a retry.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any, BinaryIO

from cryptography import x509

from gateway.as2 import compat as _compat
from gateway.as2.cms_stream import load_private_key
from gateway.as2.mdn_policy import refusal as async_mdn_refusal
from gateway.as2.mime import frame, header_value, lower_headers, raw_head, unframe
from gateway.as2.parsing import Parsed, body_file, parse_small, parse_stream
from gateway.as2.settings import (
    As2OwnSettings,
    As2PartnerSettings,
    certificate_valid,
    organization,
)
from gateway.as2.spool import spool_prefix
from gateway.errors import GatewayError, SecurityError, StoreError
from gateway.failpoints import FailPoints
from gateway.logging import get_logger, log_context, mask_url
from gateway.store.archive import Archive
from gateway.store.leases import MessageLeases
from gateway.store.models import Direction, Message, MessageStatus
from gateway.store.repository import Store

_compat.install()
from pyas2lib import as2 as pyas2  # noqa: E402

log = get_logger(__name__)

PartnerLookup = Callable[[str], As2PartnerSettings | None]
STREAM_ABOVE = 1024 * 1024  # bodies larger than this are parsed streaming (memory bounded), smaller by pyas2lib
IN_PROGRESS_SECONDS = 300  # a repeat within this time of an unfinished original is answered 503 (not run twice)
MdnHandler = Callable[[bytes, dict[str, str]], "As2Response"]


@dataclass(frozen=True, slots=True)
class As2Payload:
    """The decrypted, verified payload handed to the inbound flow (an :class:`InboundItem`): in memory (``data``)
    for a small message, a spool file (``path``, valid during the ``deliver`` call) for a streamed one."""

    channel: str
    partner_id: str | None
    name: str
    transport_id: str
    idempotency_key: str
    data: bytes = field(default=b"", repr=False)
    path: Path | None = None

    @property
    def size(self) -> int:
        return self.path.stat().st_size if self.path is not None else len(self.data)

    def open(self) -> BinaryIO:
        return open(self.path, "rb") if self.path is not None else io.BytesIO(self.data)

    def in_memory(self) -> As2Payload:
        """The same payload with its bytes read into ``data`` (to keep it past the ``deliver`` call)."""
        if self.path is None:
            return self
        with self.open() as fp:
            return replace(self, data=fp.read(), path=None)

    def ack(self, error: BaseException | None = None) -> None:
        """The AS2 MDN answers for the transmission; the document's own fate is in its 997/999."""


@dataclass(slots=True)
class As2Response:
    status_code: int
    headers: dict[str, str]
    body: bytes
    message_id: int | None = None  # our store id of the received message
    disposition: str | None = None  # "processed", "processed/Error: decryption-failed", ...
    async_mdn: tuple[int, str] | None = None  # (MDN message id, URL) to deliver in the background


def _is_mdn(headers: dict[str, str], body: bytes) -> bool:
    ctype = headers.get("content-type", "").lower()
    if "multipart/report" in ctype:
        return True
    return "multipart/signed" in ctype and b"disposition-notification" in body[:16384].lower()


class As2Receiver:
    def __init__(
        self,
        *,
        store: Store,
        archive: Archive,
        own: As2OwnSettings,
        partners: PartnerLookup,
        clock: Callable[[], datetime],
        deliver: Callable[[As2Payload], Any] | None = None,
        mdn_handler: MdnHandler | None = None,
        spool_dir: Path | None = None,
        failpoints: FailPoints | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.own = own
        self.org = organization(own)
        self.partners = partners
        self.clock = clock
        self.deliver = deliver
        self.mdn_handler = mdn_handler
        self.spool_dir = spool_dir  # where bodies are spooled and decrypted/decoded (None: the system's temp dir)
        self.failpoints = failpoints or FailPoints()
        self.stream_above = STREAM_ABOVE  # bodies larger than this take the streaming parse
        self._keys: tuple[Any, x509.Certificate | None] | None = None
        # which node is processing a request now (set by the runtime); without it, "in progress" is judged by age
        self.leases: MessageLeases | None = None

    # -- entry point -----------------------------------------------------------------------------------------
    def handle(self, body: bytes | BinaryIO, headers: dict[str, str] | Any) -> As2Response:
        """One POST: ``body`` as bytes or as a seekable file (the route's spool file), ``headers`` as received."""
        h = lower_headers(headers)
        head = raw_head(headers if isinstance(headers, dict) else dict(headers))
        fp: BinaryIO = io.BytesIO(body) if isinstance(body, (bytes, bytearray)) else body
        size = fp.seek(0, os.SEEK_END)
        fp.seek(0)
        peek = fp.read(16384)
        fp.seek(0)
        if _is_mdn(h, peek) and self.mdn_handler is not None:
            return self.mdn_handler(head + fp.read(), h)
        blob = self.archive.put_chunks(_chunks(head, fp))  # archive first: nothing below runs on unarchived bytes
        fp.seek(0)
        sender, receiver = header_value(h.get("as2-from")), header_value(h.get("as2-to"))
        msgid = (h.get("message-id") or "").strip().strip("<>").strip()
        missing = [n for n, v in (("AS2-From", sender), ("AS2-To", receiver), ("Message-ID", msgid)) if not v]
        if missing:
            return self._reject_http(blob, h, 400, f"missing AS2 header(s): {', '.join(missing)}")
        assert sender and receiver
        partner = self.partners(sender)
        key = f"as2:{sender}:{receiver}:{msgid}"
        fields: dict[str, Any] = dict(
            direction=Direction.inbound,
            status=MessageStatus.archived,
            partner_id=partner.id if partner else None,
            channel=f"{partner.id if partner else sender}/as2",
            transport_id=msgid,
            idempotency_key=key,
            file_name=None,
            content_type=h.get("content-type"),
            size=blob.size,
            sha256=blob.sha256,
            archive_key=blob.key,
        )
        events: list[tuple[str, MessageStatus | None, dict[str, Any] | None]] = [
            ("message.received", MessageStatus.received, {"channel": "as2", "as2_from": sender, "as2_to": receiver}),
            ("message.archived", MessageStatus.archived, {"sha256": blob.sha256, "size": blob.size}),
        ]
        if self.leases is not None:
            fields.update(self.leases.fields())  # created already leased to this node
        msg, created = self.store.create_message(events=events, **fields)
        assert msg.id is not None
        with log_context(message_id=msg.id, partner_id=msg.partner_id):
            if created:
                if self.leases is not None:
                    self.leases.adopt(msg.id)
            else:
                replay = self._repeat(msg, blob.key, h)
                if replay is not None:
                    return replay
            try:
                return self._process(msg, head, fp, size, h, sender, receiver, partner)
            finally:
                if self.leases is not None:
                    self.leases.release(msg.id)

    # -- duplicates ------------------------------------------------------------------------------------------
    def _repeat(self, msg: Message, blob_key: str, h: dict[str, str]) -> As2Response | None:
        """RFC 4130 5.5: the original MDN again for a processed message; None (process again) for a failed one."""
        assert msg.id is not None
        links = [a for a in self.store.acks_of(msg.id) if a.kind == "MDN"]
        if msg.status == MessageStatus.processed:
            self.store.add_event(msg.id, "as2.duplicate_received", detail={"archive_key": blob_key})
            log.info("as2.duplicate", extra={"fields": {"transport_id": msg.transport_id}})
            if not links:
                return As2Response(200, {}, b"", msg.id, "processed")
            mdn_msg = self.store.get(links[-1].ack_message_id)
            assert mdn_msg.archive_key is not None
            mdn_headers, mdn_body = unframe(self.archive.read_bytes(mdn_msg.archive_key))
            url = h.get("receipt-delivery-option")
            if url and self._async_refused(msg.id, h, url) is None:
                return As2Response(200, {}, b"", msg.id, links[-1].result, async_mdn=(mdn_msg.id or 0, url))
            return As2Response(200, mdn_headers, mdn_body, msg.id, links[-1].result)
        if self._in_progress(msg):
            # the original is being processed right now (a sender retrying too fast): it must not run twice
            self.store.add_event(msg.id, "as2.duplicate_in_progress", detail={"archive_key": blob_key})
            body = b"this Message-ID is being processed; send it again later for its MDN\n"
            return As2Response(503, {"Retry-After": "30", "Content-Type": "text/plain"}, body, msg.id, None)
        self.store.update(
            msg.id,
            event="as2.retry_received",
            status=MessageStatus.archived,
            archive_key=blob_key,
            detail={"previous_status": msg.status, "archive_key": blob_key},
        )
        return None

    def _in_progress(self, msg: Message) -> bool:
        """The original of a repeat (not processed) is being processed now (True), or failed, or was left by a
        process that died (False, and this request takes it over: leased to this node from here on)."""
        unfinished = msg.status in (MessageStatus.archived, MessageStatus.processing)
        if self.leases is None:
            return unfinished and (self.clock() - msg.updated_at).total_seconds() < IN_PROGRESS_SECONDS
        assert msg.id is not None
        return not self.leases.take(msg.id)  # held by this process's other request, or by another live node

    # -- processing ------------------------------------------------------------------------------------------
    def _process(
        self,
        msg: Message,
        head: bytes,
        fp: BinaryIO,
        size: int,
        h: dict[str, str],
        sender: str,
        receiver: str,
        partner: As2PartnerSettings | None,
    ) -> As2Response:
        assert msg.id is not None
        if receiver != self.own.as2_id or partner is None:
            who = f"AS2-To {receiver!r} is not our AS2 id" if partner else f"no partner has the AS2 id {sender!r}"
            mdn = self._header_only_mdn(head, receiver, sender, "processed/Error", "unknown-trading-partner")
            return self._finish(
                msg, h, mdn, "processed/Error", "unknown-trading-partner", who, MessageStatus.quarantined
            )
        now = self.clock()
        certs = [c for c in partner.signing_certificates if certificate_valid(c, now)]
        expired = bool(partner.signing_certificates) and not certs
        candidates: list[bytes | None] = list(certs or partner.signing_certificates[:1]) or [None]
        if size <= self.stream_above:
            parsed = self._parse_small(msg, head + fp.read(), partner, candidates)
            return self._processed(msg, h, partner, expired, parsed)
        workdir = Path(tempfile.mkdtemp(prefix=spool_prefix(), dir=self.spool_dir))
        try:
            parsed = self._parse_stream(msg, head, fp, size, h, partner, candidates, workdir)
            return self._processed(msg, h, partner, expired, parsed)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _parse_small(
        self, msg: Message, raw: bytes, partner: As2PartnerSettings, candidates: list[bytes | None]
    ) -> Parsed:
        return parse_small(
            raw, org=self.org, partner=partner, candidates=candidates, limit=self.own.max_payload_bytes,
            on_rollover=self._rollover(msg),
        )

    def _parse_stream(
        self,
        msg: Message,
        head: bytes,
        fp: BinaryIO,
        size: int,
        h: dict[str, str],
        partner: As2PartnerSettings,
        candidates: list[bytes | None],
        workdir: Path,
    ) -> Parsed:
        return parse_stream(
            head, body_file(fp, workdir), size, h, org=self.org, partner=partner, candidates=candidates,
            keys=self._decryption_key(), limit=self.own.max_payload_bytes, workdir=workdir,
            on_rollover=self._rollover(msg), checkpoint=lambda: self.failpoints.hit("as2.after_stream_parse"),
        )

    def _rollover(self, msg: Message) -> Callable[[int], None]:
        """Record that the signing certificate at this index (from 0) is tried after the previous one failed."""
        return lambda nxt: self.store.add_event(msg.id or 0, "as2.signature_rollover", detail={"certificate": nxt + 1})

    def _decryption_key(self) -> tuple[Any, x509.Certificate | None]:
        if self._keys is None:
            own = self.own
            key = load_private_key(own.decrypt_private_key or own.private_key, own.key_password)
            pem = own.decrypt_certificate or own.certificate
            self._keys = (key, x509.load_pem_x509_certificate(pem) if pem else None)
        return self._keys

    def _processed(
        self, msg: Message, h: dict[str, str], partner: As2PartnerSettings, expired: bool, parsed: Parsed
    ) -> As2Response:
        """After the parse: the verdict, the payload archived and delivered, the MDN."""
        assert msg.id is not None
        status, exc, mdn = parsed.status, parsed.exc, parsed.mdn
        reason = None
        if exc is not None:
            modifier = getattr(exc, "disposition_modifier", "") or "unexpected-processing-error"
            if modifier == "unexpected-processing-error" and parsed.encrypted and parsed.enc_alg is None:
                # pyas2lib lets unreadable enveloped data escape as a foreign error: it is a decryption failure
                modifier = "decryption-failed"
                mdn = self._rebuild_mdn(parsed.source, mdn, status, modifier)
            reason = f"{modifier}: {exc}"
        elif parsed.signed and expired:
            status, modifier = "processed/Error", "authentication-failed"
            reason = "authentication-failed: every signing certificate configured for the partner has expired"
            mdn = self._rebuild_mdn(parsed.source, mdn, status, modifier)
        else:
            modifier = None
        if status != "processed":
            return self._finish(msg, h, mdn, status, modifier, reason, MessageStatus.failed)
        if parsed.size > self.own.max_payload_bytes:
            mdn = self._rebuild_mdn(parsed.source, mdn, "processed/Error", "unexpected-processing-error")
            why = f"the payload is larger than the limit of {self.own.max_payload_bytes} bytes"
            return self._finish(
                msg, h, mdn, "processed/Error", "unexpected-processing-error", why, MessageStatus.failed
            )
        name = parsed.name or f"{msg.transport_id}.edi"
        # durable before the MDN says "processed": archived here, or by the inbound flow in deliver() (same key)
        key = parsed.sha256
        if self.deliver is None:
            key = (self.archive.put_file(parsed.path) if parsed.path else self.archive.put_bytes(parsed.data)).key
        extracted = {
            "archive_key": key,
            "size": parsed.size,
            "signed": parsed.signed,
            "encrypted": parsed.encrypted,
            "compressed": parsed.compressed,
            "mic": parsed.mic.decode() if parsed.mic else None,
            "mic_alg": parsed.digest_alg,
            "content_type": parsed.content_type,
            "streamed": parsed.path is not None,
        }
        self.store.update(msg.id, event="as2.payload_extracted", file_name=name, detail=extracted)
        if self.deliver is not None:
            item = As2Payload(
                channel=f"{partner.id}/as2",
                partner_id=partner.id,
                name=name,
                transport_id=msg.transport_id or "",
                idempotency_key=f"as2-payload:{msg.id}:{key}",
                data=parsed.data,
                path=parsed.path,
            )
            try:
                self.deliver(item)
            except StoreError:
                raise
            except Exception as exc:  # the payload is archived: the MDN still says received, the flow says why
                log.exception("as2.deliver_failed")
                self.store.add_event(msg.id, "as2.deliver_failed", detail={"error": f"{type(exc).__name__}: {exc}"})
            if not self.archive.exists(key):  # deliver() did not archive it: do it before the MDN goes out
                if parsed.path is not None:
                    self.archive.put_file(parsed.path)
                else:
                    self.archive.put_bytes(parsed.data)
        return self._finish(msg, h, mdn, "processed", None, None, MessageStatus.processed)

    # -- MDNs ------------------------------------------------------------------------------------------------
    def _rebuild_mdn(self, parsed: Any, mdn: Any, status: str, modifier: str) -> Any:
        if mdn is None:
            return None
        new = pyas2.Mdn(mdn_mode=mdn.mdn_mode, digest_alg=mdn.digest_alg, mdn_url=mdn.mdn_url)
        new.build(message=parsed, status=status, detailed_status=modifier)
        return new

    def _header_only_mdn(self, head: bytes, receiver: str, sender: str, status: str, modifier: str) -> Any:
        """A negative MDN without parsing the body (unknown partner or not addressed to us)."""
        m = pyas2.Message()
        m.payload = message_from_bytes(head)
        hdrs = {k.lower(): v for k, v in m.payload.items()}
        if "disposition-notification-to" not in hdrs:
            return None
        for k in list(m.payload.keys()):
            del m.payload[k]
        for k, v in hdrs.items():
            m.payload.add_header(k, v)
        m.message_id = hdrs.get("message-id", "").strip().strip("<>")
        m.receiver = self.org if receiver == self.own.as2_id else None
        m.sender = pyas2.Partner(as2_name=sender)
        mdn = pyas2.Mdn(mdn_mode="SYNC")  # never async: the sender is unknown or not talking to us
        mdn.build(message=m, status=status, detailed_status=modifier)
        return mdn

    def _finish(
        self,
        msg: Message,
        h: dict[str, str],
        mdn: Any,
        status: str,
        modifier: str | None,
        reason: str | None,
        state: MessageStatus,
    ) -> As2Response:
        assert msg.id is not None
        disposition = f"{status}: {modifier}" if modifier else status
        error = None
        if reason is not None:
            error = SecurityError(reason, ack_code=modifier, hint=_HINTS.get(modifier or ""))
        response = As2Response(200, {}, b"", msg.id, disposition)
        if mdn is not None:
            content = mdn.content  # serialises (and for a signed MDN, walks) the MIME tree: read it once
            body = content if isinstance(content, bytes) else b""
            mdn_headers = {k: v for k, v in mdn.headers.items()}
            stored = frame(mdn_headers, body)
            blob = self.archive.put_bytes(stored)
            is_async = bool(mdn.mdn_mode == "ASYNC" and mdn.mdn_url)
            if is_async and self._async_refused(msg.id, h, mdn.mdn_url) is not None:
                is_async = False  # answered in the HTTP response instead (see mdn_policy)
            mdn_msg, _ = self.store.create_message(
                direction=Direction.outbound,
                status=MessageStatus.queued if is_async else MessageStatus.sent,
                partner_id=msg.partner_id,
                channel=msg.channel,
                transport_id=mdn.message_id,
                file_name=f"MDN-{msg.id}.mdn",
                content_type=mdn_headers.get("Content-Type"),
                document_format="mdn",
                size=blob.size,
                sha256=blob.sha256,
                archive_key=blob.key,
                events=[
                    (
                        "mdn.built",
                        MessageStatus.queued,
                        {"disposition": disposition, "signed": _signed(mdn), "url": mdn.mdn_url if is_async else None},
                    )
                ],
            )
            assert mdn_msg.id is not None
            self.store.link_ack(message_id=msg.id, ack_message_id=mdn_msg.id, kind="MDN", result=disposition)
            if is_async:
                response.async_mdn = (mdn_msg.id, mdn.mdn_url)
            else:
                response.headers, response.body = mdn_headers, body
        fields: dict[str, Any] = {"reason": None, "error": None}
        if error is not None:
            fields = {"reason": error.describe(), "error": error.to_dict()}
            log.warning(f"message.{state.value}", extra={"fields": {"reason": fields["reason"]}})
        else:
            log.info(f"message.{state.value}")
        self.store.update(
            msg.id,
            event=f"message.{state.value}",
            status=state,
            detail={"disposition": disposition, **({"error": fields["error"]} if error else {})},
            **fields,
        )
        return response

    def _async_refused(self, message_id: int, h: dict[str, str], url: str) -> str | None:
        """Why no async MDN may go to ``url`` for this sender (recorded as ``mdn.async_refused``), or None."""
        partner = self.partners(header_value(h.get("as2-from")) or "")
        why = async_mdn_refusal(
            url,
            known=partner is not None and header_value(h.get("as2-to")) == self.own.as2_id,
            partner_url=partner.url if partner else None,
            allowed=partner.async_mdn_urls if partner else (),
        )
        if why is not None:
            self.store.add_event(message_id, "mdn.async_refused", detail={"reason": why, "url": mask_url(url)[:300]})
            log.warning("mdn.async_refused", extra={"fields": {"reason": why}})
        return why

    def record_oversize(self, headers: dict[str, str], size: int, limit: int | None = None) -> int | None:
        """A body over the limit is refused unread (HTTP 413); its headers are archived and recorded."""
        h = lower_headers(headers)
        blob = self.archive.put_bytes(raw_head(headers))
        limit = self.own.max_body_bytes if limit is None else limit
        known = self.partners(header_value(h.get("as2-from")) or "") is not None
        who = "" if known else " for a sender that is not a partner of ours"
        reason = f"request body of {size} bytes or more is over the limit of {limit} bytes{who}"
        hint = "the partner must send smaller messages (or raise edge.as2_max_body_bytes)" if known else (
            "add the sender's AS2 id to a partner file if it is a partner"
        )
        return self._reject_http(blob, h, 413, reason, hint).message_id

    def _reject_http(
        self, blob: Any, h: dict[str, str], code: int, reason: str, hint: str | None = None
    ) -> As2Response:
        """No MDN is possible (the AS2 identifiers are missing): an HTTP error, recorded with the reason."""
        err = GatewayError(reason, hint=hint or "the sender must send AS2-From, AS2-To and Message-ID headers")
        digest = hashlib.sha256(blob.key.encode() + str(self.clock()).encode()).hexdigest()[:16]
        msg, _ = self.store.create_message(
            direction=Direction.inbound,
            status=MessageStatus.failed,
            channel="as2",
            idempotency_key=f"as2-bad:{digest}",
            content_type=h.get("content-type"),
            size=blob.size,
            sha256=blob.sha256,
            archive_key=blob.key,
            reason=err.describe(),
            error=err.to_dict(),
            events=[
                ("message.archived", MessageStatus.archived, {"sha256": blob.sha256, "size": blob.size}),
                ("message.failed", MessageStatus.failed, err.to_dict()),
            ],
        )
        log.warning("message.failed", extra={"fields": {"reason": reason, "message_id": msg.id}})
        return As2Response(code, {"Content-Type": "text/plain"}, reason.encode() + b"\n", msg.id, None)


def _chunks(head: bytes, fp: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    yield head
    while data := fp.read(size):
        yield data


def _signed(mdn: Any) -> bool:
    return bool(mdn.payload is not None and mdn.payload.get_content_type() == "multipart/signed")


_HINTS = {
    "authentication-failed": "the signature does not verify with the partner's certificates: check the "
    "certificate in the partner file (add the new one as a rollover certificate)",
    "decryption-failed": "the message was not encrypted with our current certificate: send the partner ours "
    "(gateway as2 cert)",
    "insufficient-message-security": "the partner sent the message less protected than its settings require",
    "decompression-failed": "the compressed part is corrupt or expands past the size limit",
    "unknown-trading-partner": "add the AS2 id to a partner file, or correct the partner's AS2 id",
}
