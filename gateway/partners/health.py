"""Partner health for the API: files rejected at the last (re)load and certificates expiring soon.

Pure: given the loaded partners, our settings and the time, returns a JSON-ready dict. ``status`` is ``error``
when a certificate list has no valid certificate or a partner file is rejected, ``warning`` when a
certificate expires within ``certificate_warning_days``, else ``ok``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.partners.certificates import assess
from gateway.partners.channels import As2Channel
from gateway.partners.diagnostics import Problem
from gateway.partners.loader import LoadedPartner
from gateway.settings import Settings


def certificate_findings(loaded: list[LoadedPartner], settings: Settings, *, now: datetime) -> list[dict[str, Any]]:
    days = settings.certificate_warning_days
    out: list[dict[str, Any]] = []
    for lp in loaded:
        for ch in lp.partner.channels:
            if not isinstance(ch, As2Channel):
                continue
            for field in ("signing_certificates", "encryption_certificate"):
                paths = getattr(ch, field)
                for f in assess(paths or (), now=now, warn_days=days):
                    out.append(
                        {
                            "owner": lp.partner.id,
                            "channel": ch.name,
                            "field": field,
                            "file": str(f.path),
                            "severity": f.severity,
                            "message": f.message,
                        }
                    )
    for cert in settings.identity.certificates:
        for f in assess([settings.path(cert.certificate)], now=now, warn_days=days):
            out.append(
                {
                    "owner": "us",
                    "certificate": cert.name,
                    "file": str(f.path),
                    "severity": f.severity,
                    "message": f.message,
                }
            )
    return out


def partner_health(
    loaded: list[LoadedPartner], problems: list[Problem], settings: Settings, *, now: datetime
) -> dict[str, Any]:
    certs = certificate_findings(loaded, settings, now=now)
    rejected = [p.render() for p in problems if p.severity == "error"]
    severities = {c["severity"] for c in certs} | ({"error"} if rejected else set())
    status = "error" if "error" in severities else ("warning" if "warning" in severities else "ok")
    return {
        "status": status,
        "partners": len(loaded),
        "rejected_files": rejected,
        "certificates": certs,
        "certificate_warning_days": settings.certificate_warning_days,
    }
