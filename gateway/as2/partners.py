"""The adapter from a partner file's ``as2`` channel (:class:`gateway.partners.channels.As2Channel`) to
:class:`As2PartnerSettings`: certificate files read (PEM or DER, as PEM bytes), the basic-auth secret resolved,
durations in seconds. Field names are the same on both sides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.as2.settings import As2OwnSettings, As2PartnerSettings
from gateway.errors import ConfigError, Location
from gateway.partners.channels import As2Channel
from gateway.partners.identity import OwnCertificate
from gateway.partners.secrets import resolve_secret
from gateway.settings import Settings


def certificate_pem(path: Path) -> bytes:
    """A certificate file (PEM or DER) as PEM bytes; ConfigError says which file is unusable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read certificate file {path}: {exc.strerror}", location=Location(file=str(path))
        ) from exc
    try:
        cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise ConfigError(f"{path} is not a PEM or DER X.509 certificate", location=Location(file=str(path))) from exc
    return cert.public_bytes(serialization.Encoding.PEM)


def as2_partner_settings(
    partner_id: str,
    channel: As2Channel,
    *,
    secrets_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> As2PartnerSettings:
    password = None
    if channel.basic_auth_password is not None:
        password = resolve_secret(channel.basic_auth_password, secrets_dir=secrets_dir, environ=environ)
    encryption = channel.encryption_certificate or ()
    return As2PartnerSettings(
        as2_id=channel.as2_id,
        url=channel.url,
        signing_certificates=tuple(certificate_pem(p) for p in channel.signing_certificates or ()),
        encryption_certificate=certificate_pem(encryption[0]) if encryption else None,  # the current one
        sign=channel.sign,
        signature_algorithm=channel.signature_algorithm,
        encrypt=channel.encrypt,
        encryption_algorithm=channel.encryption_algorithm,
        compress=channel.compress,
        mdn=channel.mdn,
        mdn_signed=channel.mdn_signed,
        mdn_timeout=channel.mdn_timeout.total_seconds(),
        require_signed=channel.require_signed,
        require_encrypted=channel.require_encrypted,
        content_type=channel.content_type,
        binary_canonicalization=channel.binary_canonicalization,
        fold_headers=channel.fold_headers,
        basic_auth_user=channel.basic_auth_user,
        basic_auth_password=password.get_secret_value() if password is not None else None,
        verify_tls=channel.verify_tls,
        partner_id=partner_id,
        async_mdn_urls=tuple(channel.async_mdn_urls),
    )


def as2_partners(
    partners: Iterable[object], *, secrets_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> list[As2PartnerSettings]:
    """Every AS2 channel of every partner (objects with ``id`` and ``channels``, e.g. a PartnerRegistry)."""
    out = []
    for partner in partners:
        for ch in getattr(partner, "channels", ()):
            if isinstance(ch, As2Channel):
                out.append(as2_partner_settings(partner.id, ch, secrets_dir=secrets_dir, environ=environ))  # type: ignore[attr-defined]
    return out


def as2_own_settings(settings: Settings, *, environ: Mapping[str, str] | None = None, **limits: Any) -> As2OwnSettings:
    """Our AS2 identity from ``identity`` in the settings: the first certificate used for ``as2_signing`` signs
    (messages and MDNs), the first used for ``as2_encryption`` decrypts (the same one when it has both uses)."""
    ident = settings.identity
    if not ident.as2_id:
        raise ConfigError("identity.as2_id is not set", location=Location(field="identity.as2_id"))
    signing = next((c for c in ident.certificates if "as2_signing" in c.use), None)
    decrypting = next((c for c in ident.certificates if "as2_encryption" in c.use), None)
    if signing is None or decrypting is None:
        raise ConfigError(
            "identity.certificates needs a certificate used for as2_signing and one for as2_encryption",
            location=Location(field="identity.certificates"),
            hint="gateway as2 keygen makes a key pair; declare it with use: [as2_signing, as2_encryption]",
        )

    def key_of(c: OwnCertificate) -> tuple[bytes, bytes, str | None]:
        if c.private_key is not None:
            key = resolve_secret(c.private_key, secrets_dir=settings.secrets_path, environ=environ)
            key_bytes = key.get_secret_value().encode()
        else:
            assert c.private_key_file is not None
            try:
                key_bytes = settings.path(c.private_key_file).read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read our private key: {exc.strerror}", location=Location(file=str(c.private_key_file))
                ) from exc
        passphrase = None
        if c.private_key_passphrase is not None:
            passphrase = resolve_secret(
                c.private_key_passphrase, secrets_dir=settings.secrets_path, environ=environ
            ).get_secret_value()
        return key_bytes, certificate_pem(settings.path(c.certificate)), passphrase

    sign_key, sign_cert, sign_pass = key_of(signing)
    dec_key, dec_cert, dec_pass = key_of(decrypting) if decrypting is not signing else (sign_key, sign_cert, sign_pass)
    if dec_pass != sign_pass:
        raise ConfigError(
            "the signing and decryption keys must share one passphrase (or have none)",
            location=Location(field="identity.certificates"),
        )
    return As2OwnSettings(
        as2_id=ident.as2_id,
        private_key=sign_key,
        certificate=sign_cert,
        key_password=sign_pass,
        decrypt_private_key=dec_key,
        decrypt_certificate=dec_cert,
        **{k: v for k, v in _sending(settings).items() if v is not None},
        **limits,
    )


def _sending(settings: Settings) -> dict[str, Any]:
    """Our async-MDN URL, Message-ID domain and contact address (identity.as2_* in config/gateway.yaml)."""
    ident = settings.identity
    return {"mdn_url": ident.as2_mdn_url, "domain": ident.as2_message_id_domain, "email": ident.as2_email}
