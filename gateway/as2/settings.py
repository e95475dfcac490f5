"""AS2 settings as plain frozen dataclasses, independent of the partner file schema.

The partner registry adapts its ``as2`` channel to :class:`As2PartnerSettings` (same field names); certificates
and keys arrive as PEM bytes already resolved from files or secrets. :func:`inbound_partner`,
:func:`outbound_partner` and :func:`organization` turn them into pyas2lib objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from cryptography import x509

from gateway.as2 import compat as _compat
from gateway.errors import ConfigError, Location

_compat.install()
from pyas2lib import as2 as pyas2  # noqa: E402

Compress = Literal["none", "before_signing", "after_signing"]
MdnMode = Literal["sync", "async", "none"]
SignatureAlgorithm = Literal["sha1", "sha224", "sha256", "sha384", "sha512", "md5"]
EncryptionAlgorithm = Literal[
    "aes_128_cbc", "aes_192_cbc", "aes_256_cbc", "tripledes_192_cbc", "rc2_128_cbc", "rc4_128_cbc"
]
AlgorithmNaming = Literal["plain", "dashed"]  # micalg / MIC names: "sha256" (RFC 3851) or "sha-256" (RFC 5751)

DEFAULT_MAX_BODY = 100 * 1024 * 1024
DEFAULT_MAX_PAYLOAD = 200 * 1024 * 1024
DEFAULT_UNKNOWN_MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class As2PartnerSettings:
    """One partner's AS2 channel. ``signing_certificates``: current first, then rollover certificates."""

    as2_id: str
    url: str | None = None
    signing_certificates: tuple[bytes, ...] = ()
    encryption_certificate: bytes | None = None
    sign: bool = True
    signature_algorithm: SignatureAlgorithm = "sha256"
    encrypt: bool = True
    encryption_algorithm: EncryptionAlgorithm = "aes_256_cbc"
    compress: Compress = "none"
    mdn: MdnMode = "sync"
    mdn_signed: bool = True
    mdn_timeout: float = 3600.0  # seconds an async MDN may take before the message is mdn_overdue
    require_signed: bool = True
    require_encrypted: bool = True
    content_type: str = "application/edi-x12"
    binary_canonicalization: bool = False
    algorithm_naming: AlgorithmNaming = "plain"
    fold_headers: bool = False  # outbound: fold long MIME headers under compression/encryption at 76 columns
    basic_auth_user: str | None = None
    basic_auth_password: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    client_certificate: bytes | None = field(default=None, repr=False)  # PEM cert + key for mutual TLS
    timeout: float = 60.0
    partner_id: str | None = None  # the gateway's partner id (for the audit store); defaults to as2_id
    async_mdn_urls: tuple[str, ...] = ()  # where async MDNs may go (exact, or prefix ending in *); see mdn_policy

    @property
    def id(self) -> str:
        return self.partner_id or self.as2_id


@dataclass(frozen=True, slots=True)
class As2OwnSettings:
    """Our AS2 identity: one key pair signs (messages, MDNs) and decrypts unless a separate one is given."""

    as2_id: str
    private_key: bytes = field(repr=False)  # PEM
    certificate: bytes = b""  # PEM, the public certificate partners hold
    key_password: str | None = field(default=None, repr=False)
    decrypt_private_key: bytes | None = field(default=None, repr=False)
    decrypt_certificate: bytes | None = None
    mdn_url: str | None = None  # where partners send async MDNs for our messages (our POST /as2)
    domain: str = "gateway.local"  # right side of our Message-IDs
    email: str = "as2@gateway.local"  # Disposition-Notification-To
    max_body_bytes: int = DEFAULT_MAX_BODY
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD  # after decompression (zip bombs stop here)
    unknown_max_body_bytes: int = DEFAULT_UNKNOWN_MAX_BODY  # for an AS2-From that is no partner of ours


def certificate_valid(pem: bytes, at: datetime) -> bool:
    cert = x509.load_pem_x509_certificate(pem)
    return cert.not_valid_before_utc <= at.astimezone(UTC) <= cert.not_valid_after_utc


def organization(own: As2OwnSettings) -> pyas2.Organization:
    try:
        return pyas2.Organization(
            as2_name=own.as2_id,
            sign_key=own.private_key + b"\n" + own.certificate,
            sign_key_pass=own.key_password,
            decrypt_key=(own.decrypt_private_key or own.private_key)
            + b"\n"
            + (own.decrypt_certificate or own.certificate),
            decrypt_key_pass=own.key_password,
            mdn_url=own.mdn_url,
            domain=own.domain,
        )
    except Exception as exc:  # pyas2lib raises AS2Exception or oscrypto errors for unreadable keys
        raise ConfigError(
            f"our AS2 key or certificate cannot be loaded: {exc}",
            location=Location(field="as2.private_key"),
            hint="check the PEM files and the key password (gateway as2 keygen makes a pair)",
        ) from exc


def inbound_partner(p: As2PartnerSettings, signing_certificate: bytes | None) -> pyas2.Partner:
    """The pyas2lib view used to *receive* from ``p``: sign/encrypt flags mean 'required'."""
    return pyas2.Partner(
        as2_name=p.as2_id,
        verify_cert=signing_certificate,
        encrypt_cert=p.encryption_certificate,
        validate_certs=False,  # expiry is checked by the gateway (certificate_valid) with a clear reason
        sign=p.require_signed,
        encrypt=p.require_encrypted,
        digest_alg=p.signature_algorithm,
        enc_alg=p.encryption_algorithm,
        canonicalize_as_binary=p.binary_canonicalization,
    )


def outbound_partner(p: As2PartnerSettings) -> pyas2.Partner:
    """The pyas2lib view used to *send* to ``p``."""
    return pyas2.Partner(
        as2_name=p.as2_id,
        verify_cert=p.signing_certificates[0] if p.signing_certificates else None,
        encrypt_cert=p.encryption_certificate,
        validate_certs=False,
        compress=p.compress == "before_signing",
        sign=p.sign,
        digest_alg=p.signature_algorithm,
        encrypt=p.encrypt,
        enc_alg=p.encryption_algorithm,
        mdn_mode={"sync": "SYNC", "async": "ASYNC", "none": None}[p.mdn],
        mdn_digest_alg=p.signature_algorithm if (p.mdn != "none" and p.mdn_signed) else None,
        canonicalize_as_binary=p.binary_canonicalization,
    )
