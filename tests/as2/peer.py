"""The partner side played by pyas2lib directly (build messages to us, parse our MDNs)."""

from __future__ import annotations

from typing import Any

import gateway.as2  # noqa: F401 - oscrypto fix before pyas2lib (gateway/as2/compat.py)

# isort: split
from pyas2lib import as2 as pyas2

from tests.as2.support import keypair


def partner_org(name: str = "PARTNER", mdn_url: str | None = None) -> pyas2.Organization:
    kp = keypair(name)
    pem = kp.private_key + kp.certificate
    return pyas2.Organization(as2_name=name, sign_key=pem, decrypt_key=pem, mdn_url=mdn_url)


def us_as_seen_by_partner(name: str = "GATEWAY", **kw: Any) -> pyas2.Partner:
    kp = keypair(name)
    opts: dict[str, Any] = dict(
        sign=True, encrypt=True, enc_alg="aes_256_cbc", digest_alg="sha256", mdn_mode="SYNC", mdn_digest_alg="sha256"
    )
    opts.update(kw)
    return pyas2.Partner(
        as2_name=name, verify_cert=kp.certificate, encrypt_cert=kp.certificate, validate_certs=False, **opts
    )


def build(
    payload: bytes,
    *,
    org: pyas2.Organization | None = None,
    to: pyas2.Partner | None = None,
    content_type: str = "application/edi-x12",
    **kw: Any,
) -> pyas2.Message:
    msg = pyas2.Message(sender=org or partner_org(), receiver=to or us_as_seen_by_partner(**kw))
    msg.build(
        payload, filename="order.edi", content_type=content_type, disposition_notification_to="as2@partner.example"
    )
    return msg


def parse_mdn(msg: pyas2.Message, headers: dict[str, str], body: bytes) -> tuple[str | None, str | None]:
    raw = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n" + body
    mdn = pyas2.Mdn()
    return mdn.parse(raw, find_message_cb=lambda mid, rcpt: msg if mid == msg.message_id else None)
