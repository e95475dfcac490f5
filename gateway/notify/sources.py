"""What raises notices without anyone calling ``notify``: certificate expiry (checked on a schedule); dead
deliveries, quarantined files and partner acknowledgements that reject one of our messages (seen in the rows each
transaction commits: a timeline status, an ``ack_link`` with a rejecting result). Overdue acknowledgements and
service-level breaches are raised by the work that detects them, through ``gw.notifier.notify``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gateway.notify.notifier import Notifier
from gateway.partners.health import certificate_findings
from gateway.partners.loader import LoadedPartner
from gateway.settings import Settings
from gateway.store.observers import Written

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
REJECTED = {"R", "M", "W", "X", "REJECTED", "FAILED"}  # 997/999 AK9/IK5 rejections; a negative MDN


def check_certificates(notifier: Notifier, loaded: list[LoadedPartner], settings: Settings) -> int:
    """One notice per certificate finding; the key (owner, file, severity, expiry day) changes only when the
    certificate or its state does, so a check every minute still sends one notice per repeat_hours."""
    n = 0
    for f in certificate_findings(loaded, settings, now=datetime.now(UTC)):
        day = DATE.search(f["message"])
        where = f.get("channel") or f.get("certificate") or "-"
        key = f"{f['owner']}:{where}:{f['file']}:{f['severity']}:{day.group(0) if day else ''}"
        state = "expired or unusable" if f["severity"] == "error" else "expires soon"
        owner = "our own certificate" if f["owner"] == "us" else f"partner {f['owner']}"
        notifier.notify(
            "certificate_expiry",
            key=key,
            subject=f"Certificate of {owner} ({where}): {state}",
            text=f["message"] + ". Renew it and exchange the new certificate with the partner before it expires.",
            severity="error" if f["severity"] == "error" else "warning",
            fields={k: v for k, v in f.items() if k in ("owner", "channel", "certificate", "field", "file")},
        )
        n += 1
    return n


def message_observer(
    notifier: Notifier, engine: Any, ui_base: str | None = None
) -> Callable[[Any, list[Written]], None]:
    """An after-commit observer (gateway.store.observers) for one gateway's engine."""

    def link(message_id: int | None) -> str:
        return f" Open {ui_base}/ui/messages/{message_id}." if ui_base and message_id else ""

    def observe(bound: Any, rows: list[Written]) -> None:
        if bound is not engine:
            return
        for w in rows:
            if w.kind == "ack" and w.direction == "outbound" and (w.status or "").upper() in REJECTED:
                notifier.notify(
                    "ack_rejected",
                    key=f"{w.message_id}:{w.name}",
                    subject=f"{w.name} from {w.partner_id or 'a partner'} rejected message {w.message_id}",
                    text=f"The partner's {w.name} rejected our message {w.message_id} ({w.set_ids or 'unknown set'}, "
                    f"{w.file_name or 'no name'}): result {w.status}. Read the acknowledgement, correct the "
                    "document, and send it again." + link(w.message_id),
                    severity="error",
                    fields={"message_id": w.message_id, "partner": w.partner_id, "ack": w.name, "result": w.status},
                )
                continue
            if w.kind != "event":
                continue
            if w.status == "dead":
                notifier.notify(
                    "dead_delivery",
                    key=str(w.message_id),
                    subject=f"Delivery to {w.partner_id or 'a partner'} gave up: message {w.message_id}",
                    text=f"Outbound message {w.message_id} ({w.set_ids or 'unknown set'}, {w.file_name or 'no name'}) "
                    f"exhausted its retries: {w.reason or 'see its timeline'}. Fix the channel, then resend it."
                    + link(w.message_id),
                    severity="error",
                    fields={"message_id": w.message_id, "partner": w.partner_id, "file": w.file_name},
                )
            elif w.status == "quarantined":
                notifier.notify(
                    "quarantine",
                    key=str(w.message_id),
                    subject=f"File quarantined: message {w.message_id} ({w.file_name or 'no name'})",
                    text=f"No partner claims inbound message {w.message_id}: {w.reason or 'see its timeline'}. "
                    "Add or correct the partner file, then reprocess it." + link(w.message_id),
                    severity="warning",
                    fields={"message_id": w.message_id, "file": w.file_name},
                )

    observe.__name__ = "notify_on_messages"
    return observe
