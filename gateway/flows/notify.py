"""The notification hook: one call, ``notify(kind, **fields)``, for things a person should hear about at once.

Called today for ``ack.overdue`` (an outbound document's acknowledgement did not arrive in time). A
notification is always a structured log event named ``kind`` at warning level, with ``fields`` (ids, partner,
reason: never payloads); :func:`to_notifier` also hands it to the gateway's notification channels (webhook,
e-mail: ``gateway/notify``), deduplicated and rate-limited there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.logging import get_logger

log = get_logger("gateway.notify")


def notify(kind: str, **fields: Any) -> None:
    """Tell a person: ``kind`` is a dotted event name (``ack.overdue``), ``fields`` plain JSON-able values."""
    log.warning(kind, extra={"fields": {"notification": True, **fields}})


NOTIFIER_KINDS = {"ack.overdue": "ack_overdue", "sla.breach": "sla_breach"}


def to_notifier(notifier: Callable[[], Any]) -> Callable[..., None]:
    """A ``notify`` that logs (as :func:`notify`) and queues a notice on ``notifier()`` (a
    :class:`gateway.notify.notifier.Notifier`, looked up at call time). The notice's key is the message, so a
    condition that lasts is announced once per the notifier's ``repeat_hours``."""

    def send(kind: str, **fields: Any) -> None:
        notify(kind, **fields)
        target = notifier()
        if target is None:
            return
        what = NOTIFIER_KINDS.get(kind, kind.replace(".", "_"))
        ident = fields.get("message_id")
        partner = fields.get("partner_id") or "?"
        subject = f"{partner}: {kind} for message {ident}" if ident is not None else f"{partner}: {kind}"
        text = ", ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        target.notify(what, key=f"message:{ident}" if ident is not None else kind, subject=subject, text=text,
                      fields=dict(fields))

    return send
