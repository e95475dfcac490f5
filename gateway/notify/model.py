"""A notice and how it reads in each channel (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Literal

KINDS = (
    "certificate_expiry",  # a partner's or our certificate expires within certificate_warning_days, or has expired
    "dead_delivery",  # an outbound message exhausted its retries
    "quarantine",  # an inbound file no partner claims
    "ack_rejected",  # a partner rejected our document (997/999 R, negative MDN): called by the acknowledgement work
    "ack_overdue",  # a partner's acknowledgement did not arrive in time: called by the acknowledgement work
    "sla_breach",  # a service level was missed: called by the work that measures them
    "digest",  # the rate limit's summary of notices held back
)
Severity = Literal["info", "warning", "error"]
ICON = {"info": ":information_source:", "warning": ":warning:", "error": ":rotating_light:"}


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str
    key: str
    subject: str
    text: str
    severity: Severity = "warning"
    fields: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def as_json(n: Notice, *, gateway: str) -> dict[str, Any]:
    return {
        "kind": n.kind,
        "severity": n.severity,
        "subject": n.subject,
        "text": n.text,
        "key": n.key,
        "at": n.at.isoformat(),
        "gateway": gateway,
        "fields": n.fields,
    }


def as_slack(n: Notice, *, gateway: str) -> dict[str, Any]:
    """Slack's incoming-webhook body (also understood by Mattermost and Rocket.Chat)."""
    facts = "\n".join(f"*{k}*: {v}" for k, v in n.fields.items())
    head = f"{ICON.get(n.severity, '')} *{n.subject}*"
    when = f"{n.at:%Y-%m-%d %H:%M}"
    return {
        "text": f"{head}\n{n.text}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{head}\n{n.text}"}},
            *([{"type": "section", "text": {"type": "mrkdwn", "text": facts}}] if facts else []),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{gateway} · {n.kind} · {when} UTC"}]},
        ],
    }


def as_email(n: Notice, *, gateway: str, sender: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[{gateway}] {n.severity.upper()}: {n.subject}"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["X-Gateway-Notice"] = f"{n.kind}; key={n.key[:200]}"
    lines = [n.text, ""]
    lines += [f"{k}: {v}" for k, v in n.fields.items()]
    lines += ["", f"-- {gateway}, {n.at:%Y-%m-%d %H:%M:%S} UTC ({n.kind})"]
    msg.set_content("\n".join(lines))
    return msg


def digest(held: list[Notice]) -> Notice:
    """One notice standing for the ones the rate limit held back."""
    lines = [f"- [{n.severity}] {n.subject}" for n in held[:30]]
    if len(held) > 30:
        lines.append(f"- ... and {len(held) - 30} more")
    worst: Severity = "error" if any(n.severity == "error" for n in held) else "warning"
    return Notice(
        kind="digest",
        key=f"digest-{held[0].at.isoformat()}",
        subject=f"{len(held)} more notifications (rate limit reached)",
        text="These were held back by the notification rate limit (max_per_hour):\n" + "\n".join(lines),
        severity=worst,
        fields={"held": len(held)},
    )
