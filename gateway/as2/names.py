"""What the rest of the gateway needs to know of AS2 without loading it: whether this gateway has an AS2
identity, the async-MDN job's name, and an AS2 identifier as sent in a header.

The AS2 modules import pyas2lib, oscrypto, asn1crypto, cryptography and httpx (about 15 MB of a process's memory);
a gateway without AS2 configured (and without AS2 channels) never needs them, so :mod:`gateway.runtime` and the
``POST /as2`` route import only this module until AS2 is used.
"""

from __future__ import annotations

from typing import Any

ASYNC_MDN_JOB = "as2.async_mdn"


def as2_configured(settings: Any) -> bool:
    """Whether the settings give this gateway an AS2 identity: ``identity.as2_id`` and certificates used for
    as2_signing and as2_encryption (whether they load is checked when the AS2 service is built)."""
    ident = settings.identity
    uses = {u for c in ident.certificates for u in c.use}
    return bool(ident.as2_id) and {"as2_signing", "as2_encryption"} <= uses


def header_value(text: str | None) -> str | None:
    """An AS2 identifier as sent (quoted when it holds spaces): quotes removed."""
    if text is None:
        return None
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text or None
