"""What we record when we build an AS2 message, and what an MDN means against that record. Pure: bytes and
dicts in, a verdict out (no store, no HTTP).

:func:`recorded_options` is everything the MDN check needs later (MDN mode, signed or not, our MIC and its
algorithm, the partner certificates that verify the MDN) plus fingerprints of every certificate used, so a
retry or a late asynchronous MDN is judged by what the message was built with, not by the partner file as it
is by then. :func:`judge_mdn` parses and verifies an MDN against such a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

from cryptography import x509

from gateway.as2 import compat as _compat
from gateway.as2.settings import As2OwnSettings, As2PartnerSettings, outbound_partner

_compat.install()
from pyas2lib import as2 as pyas2  # noqa: E402

if TYPE_CHECKING:
    from gateway.as2.send import BuiltMessage

Outcome = Literal["delivered", "rejected", "unusable"]


def fingerprint(pem: bytes | None) -> str | None:
    """SHA-256 fingerprint of a PEM certificate, as ``AB:CD:...`` (what ``openssl x509 -fingerprint`` shows)."""
    if not pem:
        return None
    digest = x509.load_pem_x509_certificate(pem).fingerprint(_sha256())
    return ":".join(f"{b:02X}" for b in digest)


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def recorded_options(partner: As2PartnerSettings, own: As2OwnSettings, built: BuiltMessage) -> dict[str, Any]:
    """The options a message was built with (JSON-ready)."""
    return {
        "as2_from": own.as2_id,
        "as2_to": partner.as2_id,
        "url": partner.url,
        "mdn": partner.mdn,
        "mdn_signed": partner.mdn_signed,
        "mdn_timeout": partner.mdn_timeout,
        "mdn_url": own.mdn_url if partner.mdn == "async" else None,
        "mic": built.mic,
        "mic_alg": built.mic_alg,
        "sign": partner.sign,
        "signature_algorithm": partner.signature_algorithm,
        "encrypt": partner.encrypt,
        "encryption_algorithm": partner.encryption_algorithm if partner.encrypt else None,
        "compress": partner.compress,
        "content_type": partner.content_type,
        "algorithm_naming": partner.algorithm_naming,
        "mdn_verify_certificates": [c.decode("ascii") for c in partner.signing_certificates],
        "mdn_verify_fingerprints": [fingerprint(c) for c in partner.signing_certificates],
        "encryption_certificate_fingerprint": fingerprint(partner.encryption_certificate) if partner.encrypt else None,
        "our_certificate_fingerprint": fingerprint(own.certificate) if own.certificate else None,
    }


def mdn_mic(mdn: Any) -> tuple[str | None, str | None]:
    """(MIC, algorithm) from the MDN's Received-Content-MIC field."""
    if mdn.payload is None:
        return None, None
    for part in mdn.payload.walk():
        if part.get_content_type() == "message/disposition-notification":
            for sub in part.get_payload():
                value = sub.get("Received-Content-MIC")
                if value:
                    mic, _, alg = value.partition(",")
                    return mic.strip(), alg.strip().lower().replace("-", "") or None
    return None, None


@dataclass(frozen=True, slots=True)
class MdnVerdict:
    outcome: Outcome
    status: str | None  # the MDN's disposition: "processed", "processed/Error", "failed/Failure" ...
    detail: str | None
    reason: str | None  # one line for a person when the outcome is not delivered
    facts: dict[str, Any] = field(default_factory=dict)  # for the timeline
    mdn_message_id: str | None = None


def judge_mdn(
    raw: bytes, as2_message_id: str, options: dict[str, Any], *, extra_certificates: tuple[bytes, ...] = ()
) -> MdnVerdict:
    """Parse and verify ``raw`` (HTTP headers + body of an MDN) for our message ``as2_message_id`` built with
    ``options``. The signature is checked with the certificates recorded at build time, then with
    ``extra_certificates`` (the partner file's current ones, for a rollover between the send and the MDN)."""
    recorded = tuple(c.encode("ascii") for c in options.get("mdn_verify_certificates") or ())
    certs: list[bytes | None] = [*recorded, *(c for c in extra_certificates if c not in recorded)] or [None]
    settings = As2PartnerSettings(
        as2_id=str(options.get("as2_to") or ""),
        mdn=options.get("mdn") or "sync",
        mdn_signed=bool(options.get("mdn_signed")),
        signature_algorithm=options.get("signature_algorithm") or "sha256",
        encrypt=False,
    )
    status: str | None = None
    detail: str | None = None
    mdn: Any = None
    for cert in certs:
        receiver = outbound_partner(settings)
        receiver.verify_cert = cert
        orig = SimpleNamespace(message_id=as2_message_id, receiver=receiver, mic=None)  # MIC compared below
        mdn = pyas2.Mdn()
        status, detail = mdn.parse(raw, find_message_cb=lambda mid, _r, o=orig: o if mid == o.message_id else None)
        if not (detail and "Failed to parse" in detail and "verif" in detail.lower()):
            break
    got_mic, got_alg = mdn_mic(mdn)
    signed = bool(mdn is not None and mdn.digest_alg and status and not status.startswith("failed"))
    facts: dict[str, Any] = {
        "mdn_status": status,
        "mdn_detail": detail,
        "mdn_signed": signed,
        "mic": got_mic,
        "mic_alg": got_alg,
        "expected_mic": options.get("mic"),
        "expected_mic_alg": options.get("mic_alg"),
    }
    mdn_id = getattr(mdn, "message_id", None)
    low = (status or "").lower()
    duplicate = low.startswith("processed/warning") and "duplicate-document" in (detail or "").lower()
    if status == "processed" or duplicate:
        mic, alg = options.get("mic"), options.get("mic_alg")
        if mic and got_mic is not None and (got_mic != mic or (got_alg and got_alg != alg)):
            why = f"the MDN's MIC {got_mic!r} ({got_alg}) does not match ours {mic!r} ({alg})"
            return MdnVerdict("rejected", status, detail, why, facts, mdn_id)
        if mic and got_mic is None and not duplicate:
            why = "the MDN has no Received-Content-MIC: the partner did not confirm what it received"
            return MdnVerdict("rejected", status, detail, why, facts, mdn_id)
        if duplicate:
            facts["duplicate"] = True  # the partner already holds this Message-ID: it was delivered before
        return MdnVerdict("delivered", status, detail, None, facts, mdn_id)
    if low.startswith("processed/"):
        return MdnVerdict("rejected", status, detail, f"negative MDN: {status}: {detail}", facts, mdn_id)
    why = f"the MDN could not be accepted: {detail or status}"
    return MdnVerdict("unusable", status, detail, why, facts, mdn_id)
