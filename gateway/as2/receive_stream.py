"""The streaming parse of a received AS2 message (RFC 4130) from a known partner: decrypt, decompress, verify
and extract the payload with memory that does not grow with the message size.

Same order and the same checks as pyas2lib's ``Message.parse`` (which the receiver keeps for small bodies):
required encryption, EnvelopedData decrypted (:func:`gateway.as2.cms_stream.decrypt`), compressed data before or
after signing inflated up to the payload limit, required signature, multipart/signed verified over the exact bytes
of the signed part (or, failing that, its canonical CRLF form) with each signing certificate in turn, MIC computed
from the same digest. Every intermediate form is a file in ``workdir``; the payload ends in ``workdir/payload``.
Failures raise pyas2lib's exceptions, whose ``disposition_modifier`` is the MDN's.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.as2 import compat as _compat
from gateway.as2.cms_stream import decrypt as cms_decrypt
from gateway.as2.cms_stream import first_valid, hashers, inflate, signer_digests
from gateway.as2.mime_stream import Canonical, Entity, MimeError, decoded, entity_at, parse_headers, split_signed

_compat.install()
from pyas2lib.exceptions import (  # noqa: E402
    DecompressionError,
    InsufficientSecurityError,
    IntegrityError,
)

MAX_SIGNATURE = 1024 * 1024  # a detached signature (with its certificates) larger than this is not one
PKCS7_MIME = "application/pkcs7-mime"
SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")


@dataclass(slots=True)
class Received:
    """What the parse found (the fields pyas2lib's Message has) and where the payload is."""

    encrypted: bool = False
    compressed: bool = False
    signed: bool = False
    enc_alg: str | None = None
    digest_alg: str | None = None
    mic: bytes | None = None
    certificate: int = 0  # index of the signing certificate that verified
    payload: Entity | None = None  # the payload's MIME headers (name, content type); body in payload_path
    payload_path: Path | None = None
    size: int = 0
    sha256: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StreamParse:
    workdir: Path
    require_encrypted: bool
    require_signed: bool
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate | None  # ours, to find our recipient info first
    signing_certificates: Sequence[bytes | None]
    max_payload: int
    on_rollover: Callable[[int], None] = lambda _i: None
    _n: int = 0

    def _spool(self, what: str) -> BinaryIO:
        self._n += 1
        return open(self.workdir / f"{self._n:02d}-{what}", "w+b")

    def run(self, entity: Entity, result: Received) -> Received:
        """Parse ``entity`` (the HTTP body with the request's headers) filling ``result`` as it goes (so a failure
        still tells what was found: encrypted, signed ...)."""
        if self.require_encrypted and entity.content_type != PKCS7_MIME:
            raise InsufficientSecurityError(
                "Incoming messages from this partner must be encrypted but encrypted message not found."
            )
        if entity.content_type == PKCS7_MIME and entity.param("smime-type") == "enveloped-data":
            result.encrypted = True
            entity = self._decrypt(entity, result)
        entity, result.compressed = self._decompress(entity)
        if self.require_signed and entity.content_type != "multipart/signed":
            raise InsufficientSecurityError(
                "Incoming messages from this partner must be signed but signed message not found."
            )
        if entity.content_type == "multipart/signed":
            result.signed = True
            entity = self._verify(entity, result)
        if not result.compressed:
            entity, result.compressed = self._decompress(entity)
        self._extract(entity, result)
        return result

    def _decrypt(self, entity: Entity, result: Received) -> Entity:
        with self._spool("enveloped") as raw, self._spool("decrypted") as out:
            source = decoded(entity, raw)
            with source.open() as fp:
                result.enc_alg = cms_decrypt(fp, out, self.private_key, self.certificate)
            size, path = out.tell(), Path(out.name)
        inner = entity_at(path, 0, size)
        if inner.content_type == "text/plain":  # not MIME: the decrypted bytes are the payload (as pyas2lib)
            return Entity(parse_headers(b"Content-Type: application/edi-consent\r\n\r\n"), path, 0, size)
        return inner

    def _decompress(self, entity: Entity) -> tuple[Entity, bool]:
        if not (entity.content_type == PKCS7_MIME and entity.param("smime-type") == "compressed-data"):
            return entity, False
        with self._spool("compressed") as raw, self._spool("inflated") as out:
            try:
                source = decoded(entity, raw)
            except MimeError as exc:
                raise DecompressionError(f"the compressed part is not valid: {exc}") from exc
            with source.open() as fp:
                size = inflate(fp, out, self.max_payload)
            path = Path(out.name)
        return entity_at(path, 0, size), True

    def _verify(self, entity: Entity, result: Received) -> Entity:
        try:
            (a, b), (c, d) = split_signed(entity)
            signature_part = entity_at(entity.path, c, d)
            if signature_part.content_type not in SIGNATURE_TYPES:
                raise MimeError(f"the second part of multipart/signed is {signature_part.content_type}")
            if signature_part.size > MAX_SIGNATURE * 2:
                raise MimeError("the signature part is too large")
            with self._spool("signature") as spool:
                sig = decoded(signature_part, spool)
                with sig.open() as fp:
                    signature = fp.read(MAX_SIGNATURE + 1)
        except MimeError as exc:
            raise IntegrityError(f"Failed to verify message signature: {exc}") from exc
        if len(signature) > MAX_SIGNATURE:
            raise IntegrityError("Failed to verify message signature: the signature part is too large")
        names = signer_digests(signature)
        exact, canonical = hashers(names), hashers(names)
        feed = Canonical(exact, canonical)
        for chunk in Entity(entity.headers, entity.path, a, b).chunks():
            feed.update(chunk)
        feed.finish()
        forms = [{n: h.digest() for n, h in exact.items()}]
        if feed.changed:
            forms.append({n: h.digest() for n, h in canonical.items()})
        for i, cert in enumerate(self.signing_certificates):
            if cert is None:
                raise IntegrityError("Failed to verify message signature: no signing certificate for the partner")
            try:
                name, form = first_valid(signature, forms, cert)
            except IntegrityError:
                if i + 1 < len(self.signing_certificates):
                    self.on_rollover(i + 1)
                    continue
                raise
            result.certificate, result.digest_alg = i, name
            result.mic = base64.b64encode(forms[form][name])
            if form:
                result.notes.append("signature verified over the canonical (CRLF) form of the signed part")
            break
        return entity_at(entity.path, a, b)

    def _extract(self, entity: Entity, result: Received) -> None:
        """The payload: the entity's body, transfer-decoded, copied to ``workdir/payload`` with its digest."""
        with self._spool("decoded") as spool:
            body = decoded(entity, spool)
            digest, size = hashlib.sha256(), 0
            target = self.workdir / "payload"
            with open(target, "wb") as out:
                for chunk in body.chunks():
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
        result.payload, result.payload_path = entity, target
        result.size, result.sha256 = size, digest.hexdigest()


class MdnSource:
    """What pyas2lib's ``Mdn.build`` reads from a parsed message, for a message parsed by :class:`StreamParse`."""

    def __init__(self, *, headers: dict[str, str], receiver: Any, sender: Any, received: Received) -> None:
        self.headers = headers  # lower-case AS2 headers of the request
        self.message_id = (headers.get("message-id") or "").strip().lstrip("<").rstrip(">")
        self.receiver, self.sender = receiver, sender
        self.received = received

    @property
    def mic(self) -> bytes | None:
        return self.received.mic

    @property
    def digest_alg(self) -> str | None:
        return self.received.digest_alg

    @property
    def encrypted(self) -> bool:
        return self.received.encrypted

    @property
    def enc_alg(self) -> str | None:
        return self.received.enc_alg
