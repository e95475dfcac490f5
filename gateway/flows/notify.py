"""The notification hook: one call, ``notify(kind, **fields)``, for things a person should hear about at once.

Called today for ``ack.overdue`` (an outbound document's acknowledgement did not arrive in time). Until the
operations console's notification channels (e-mail, chat, webhook) are wired in, a notification is a structured
log event named ``kind`` at warning level, with ``fields`` (ids, partner, reason: never payloads). The console
replaces the body of this function, not its callers.
"""

from __future__ import annotations

from typing import Any

from gateway.logging import get_logger

log = get_logger("gateway.notify")


def notify(kind: str, **fields: Any) -> None:
    """Tell a person: ``kind`` is a dotted event name (``ack.overdue``), ``fields`` plain JSON-able values."""
    log.warning(kind, extra={"fields": {"notification": True, **fields}})
