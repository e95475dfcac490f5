"""Certificates named in partner files and in our identity: readable, and how long they stay valid.

A partner may list two certificates (the current one and the next) so a rollover can overlap: a list is in
trouble only when none of its certificates is valid now; one expiring or expired while another is valid is a
warning. Expiry within ``warn_days`` (30 by default, setting ``certificate_warning_days``) is a warning in
``gateway partners check`` and in the API's health details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from gateway.errors import ConfigError, Location


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    path: Path
    subject: str
    not_before: datetime
    not_after: datetime

    def valid_at(self, now: datetime) -> bool:
        return self.not_before <= now <= self.not_after

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now) / timedelta(days=1)


def read_certificate(path: Path) -> CertificateInfo:
    """Load a PEM or DER X.509 certificate; a ConfigError says why it cannot be used."""
    from cryptography import x509  # here, not at import: about 10 MB that a gateway without certificates never needs

    where = Location(file=str(path))
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"certificate file {path} does not exist",
            location=where,
            hint="put the partner's public certificate beside the partner file, or correct the path",
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read certificate file {path}: {exc.strerror}", location=where) from exc
    try:
        cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError as exc:
        kind = "a private key, not a certificate" if b"PRIVATE KEY" in data else "not a PEM or DER X.509 certificate"
        raise ConfigError(
            f"{path} is {kind}",
            location=where,
            hint="expected the partner's public certificate ('-----BEGIN CERTIFICATE-----')",
        ) from exc
    return CertificateInfo(path, cert.subject.rfc4514_string(), cert.not_valid_before_utc, cert.not_valid_after_utc)


@dataclass(frozen=True, slots=True)
class CertificateFinding:
    path: Path
    severity: str  # "error" or "warning"
    message: str


def assess(paths: tuple[Path, ...] | list[Path], *, now: datetime, warn_days: float) -> list[CertificateFinding]:
    """Findings for one certificate list (current + next during a rollover)."""
    infos: list[CertificateInfo] = []
    findings: list[CertificateFinding] = []
    for path in paths:
        try:
            infos.append(read_certificate(path))
        except ConfigError as exc:
            findings.append(CertificateFinding(path, "error", exc.message + (f" ({exc.hint})" if exc.hint else "")))
    any_valid = any(i.valid_at(now) for i in infos)
    # a next certificate valid beyond the warning window already covers the rollover
    covered = any(i.valid_at(now) and i.days_left(now) > warn_days for i in infos)
    for info in infos:
        stamp = info.not_after.strftime("%Y-%m-%d")
        if info.not_after < now:
            sev = "warning" if any_valid else "error"
            tail = "; the other certificate in the list is valid" if any_valid else "; install a new certificate"
            findings.append(
                CertificateFinding(info.path, sev, f"certificate {info.path.name} expired on {stamp}{tail}")
            )
        elif info.not_before > now and not any_valid:
            findings.append(
                CertificateFinding(
                    info.path,
                    "error",
                    f"certificate {info.path.name} is not valid before {info.not_before:%Y-%m-%d} and no other "
                    "certificate in the list is valid now",
                )
            )
        elif info.days_left(now) <= warn_days and info.valid_at(now) and not covered:
            findings.append(
                CertificateFinding(
                    info.path,
                    "warning",
                    f"certificate {info.path.name} ({info.subject}) expires on {stamp}, in "
                    f"{max(int(info.days_left(now)), 0)} days: arrange the next one (a second certificate "
                    "in the list overlaps the rollover)",
                )
            )
    return findings
