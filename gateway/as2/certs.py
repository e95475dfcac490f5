"""Our AS2 identity: an RSA key pair and a self-signed certificate (``gateway as2 keygen``), and the public
certificate to give partners (``gateway as2 cert``). Pure functions on bytes, using cryptography."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gateway.errors import ConfigError


@dataclass(frozen=True, slots=True)
class KeyPair:
    private_key: bytes  # PEM (PKCS#8), encrypted when a password was given
    certificate: bytes  # PEM


def generate(
    common_name: str,
    *,
    organization: str | None = None,
    days: int = 730,
    key_size: int = 2048,
    password: str | None = None,
    now: datetime | None = None,
) -> KeyPair:
    """A new RSA key and a self-signed certificate valid from ``now`` for ``days`` days (signing + encryption)."""
    now = now or datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    name = x509.Name(attrs)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return KeyPair(
        private_key=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption),
        certificate=cert.public_bytes(serialization.Encoding.PEM),
    )


def public_certificate(pem: bytes, *, der: bool = False) -> bytes:
    """The certificate(s) only from a PEM bundle (a private key in the bundle is never returned)."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ConfigError(f"no PEM certificate found: {exc}") from exc
    if der:
        return certs[0].public_bytes(serialization.Encoding.DER)
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def describe(pem: bytes) -> dict[str, str]:
    cert = x509.load_pem_x509_certificates(pem)[0]
    return {
        "subject": cert.subject.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex(":"),
    }
