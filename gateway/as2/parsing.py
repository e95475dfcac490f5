"""Parsing a received AS2 message, in one of two ways with one outcome (:class:`Parsed`): pyas2lib's parse in
memory for small bodies (:func:`parse_small`), the streaming parse of ``receive_stream`` for large ones
(:func:`parse_stream`), whose MDN is built by pyas2lib from what the streaming parse found. Pure of the store:
the receiver records rollovers through ``on_rollover``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path
from typing import Any, BinaryIO

from gateway.as2 import compat as _compat
from gateway.as2.mime import bounded_decompress
from gateway.as2.mime_stream import Entity, parse_headers
from gateway.as2.receive_stream import MdnSource, Received, StreamParse
from gateway.as2.settings import As2PartnerSettings, inbound_partner
from gateway.errors import StoreError
from gateway.logging import get_logger

_compat.install()
from pyas2lib import as2 as pyas2  # noqa: E402
from pyas2lib.exceptions import IntegrityError as _Pyas2IntegrityError  # noqa: E402

log = get_logger(__name__)


@dataclass(slots=True)
class Parsed:
    """The outcome of parsing a message (by pyas2lib, or streamed), in one shape for the rest of the receive."""

    source: Any  # what pyas2lib's Mdn.build reads: the pyas2lib Message or a MdnSource
    status: str
    exc: BaseException | None
    mdn: Any
    signed: bool = False
    encrypted: bool = False
    compressed: bool = False
    enc_alg: str | None = None
    mic: bytes | None = None
    digest_alg: str | None = None
    name: str | None = None
    content_type: str | None = None
    data: bytes = b""  # the payload in memory (pyas2lib) ...
    path: Path | None = None  # ... or in a spool file (streamed)
    size: int = 0
    sha256: str = ""


class BoundedMessage(pyas2.Message):
    """pyas2lib's Message with a decompression that stops at a size limit."""

    limit: int = 0

    def _decompress_data(self, payload: Any) -> tuple[bool, Any]:
        if payload.get_content_type() == "application/pkcs7-mime" and payload.get_param("smime-type") == (
            "compressed-data"
        ):
            return True, message_from_bytes(bounded_decompress(payload.get_payload(decode=True), self.limit))
        return False, payload


def parse_small(
    raw: bytes,
    *,
    org: Any,
    partner: As2PartnerSettings,
    candidates: list[bytes | None],
    limit: int,
    on_rollover: Callable[[int], None],
) -> Parsed:
    """pyas2lib's parse, in memory (small bodies): one try per signing certificate until one verifies."""
    result: Any = None
    for i, cert in enumerate(candidates):
        parsed = BoundedMessage()
        parsed.limit = limit
        status, (exc, _tb), mdn = parsed.parse(
            raw,
            find_org_cb=lambda _id: org,
            find_partner_cb=lambda _id, c=cert: inbound_partner(partner, c),
        )
        result = (parsed, status, exc, mdn)
        if not (isinstance(exc, _Pyas2IntegrityError) and i + 1 < len(candidates)):
            break
        on_rollover(i + 1)
    parsed, status, exc, mdn = result
    out = Parsed(parsed, status, exc, mdn, parsed.signed, parsed.encrypted, parsed.compressed, parsed.enc_alg,
                  parsed.mic, parsed.digest_alg)
    if status == "processed":
        content = parsed.content  # a property that serialises the MIME tree: read it once
        out.data = content if isinstance(content, bytes) else b""
        out.size, out.sha256 = len(out.data), hashlib.sha256(out.data).hexdigest()
        if parsed.payload is not None:
            out.name, out.content_type = parsed.payload.get_filename(), parsed.payload.get_content_type()
    return out


def parse_stream(
    head: bytes,
    body: Path,
    size: int,
    h: dict[str, str],
    *,
    org: Any,
    partner: As2PartnerSettings,
    candidates: list[bytes | None],
    keys: tuple[Any, Any],
    limit: int,
    workdir: Path,
    on_rollover: Callable[[int], None],
    checkpoint: Callable[[], None] = lambda: None,
) -> Parsed:
    """The streaming parse (large bodies): memory does not grow with the size (see receive_stream)."""
    key, cert = keys
    parser = StreamParse(
        workdir=workdir,
        require_encrypted=partner.require_encrypted,
        require_signed=partner.require_signed,
        private_key=key,
        certificate=cert,
        signing_certificates=candidates,
        max_payload=limit,
        on_rollover=on_rollover,
    )
    received = Received()
    status, exc = "processed", None
    try:
        parser.run(Entity(parse_headers(head), body, 0, size), received)
        checkpoint()  # decrypted and verified in spool files, nothing recorded yet
    except StoreError:
        raise
    except Exception as e:  # every failure becomes an MDN disposition, as in pyas2lib's parse
        status, exc = getattr(e, "disposition_type", "processed/Error"), e
        log.warning("as2.parse_failed", extra={"fields": {"error": f"{type(e).__name__}: {e}"[:300]}})
    source = MdnSource(
        headers=h, receiver=org, sender=inbound_partner(partner, candidates[received.certificate]),
        received=received,
    )
    mdn = None
    if h.get("disposition-notification-to"):
        url = h.get("receipt-delivery-option")
        options = h.get("disposition-notification-options")
        digest = options.split(";")[-1].split(",")[-1].strip() if options else None
        mdn = pyas2.Mdn(mdn_mode="ASYNC" if url else "SYNC", mdn_url=url, digest_alg=digest)
        modifier = getattr(exc, "disposition_modifier", "") or "unexpected-processing-error" if exc else None
        mdn.build(message=source, status=status, detailed_status=modifier)
    out = Parsed(source, status, exc, mdn, received.signed, received.encrypted, received.compressed,
                  received.enc_alg, received.mic, received.digest_alg)
    if status == "processed" and received.payload is not None:
        out.name, out.content_type = received.payload.headers.get_filename(), received.payload.content_type
        out.path, out.size, out.sha256 = received.payload_path, received.size, received.sha256
    return out


def body_file(fp: BinaryIO, workdir: Path) -> Path:
    """A path holding the body: the spool file it already is, or a copy in ``workdir``."""
    name = getattr(fp, "name", None)
    if isinstance(name, str) and os.path.isfile(name) and os.path.getsize(name) == fp.seek(0, os.SEEK_END):
        fp.seek(0)
        return Path(name)
    fp.seek(0)
    path = workdir / "body"
    with open(path, "wb") as out:
        shutil.copyfileobj(fp, out, 1 << 20)
    return path
