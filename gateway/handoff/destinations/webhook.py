"""Webhook destination: POST each event as JSON, signed (see gateway/handoff/events.py ``signed_headers``).

2xx is delivered; 408, 425, 429 and 5xx (and timeouts, refused or cut connections) are transient; any other 4xx
is permanent (the receiver refused this event: retrying the same bytes will not help).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import httpx

from gateway.errors import PermanentTransportError, TransientTransportError
from gateway.handoff.config import WebhookDestination
from gateway.handoff.destinations.base import OutgoingEvent, Receipt
from gateway.handoff.events import signed_headers
from gateway.partners.secrets import resolve_secret

TRANSIENT_STATUS = frozenset({408, 425, 429})


class WebhookPublisher:
    kind: ClassVar[str] = "webhook"

    def __init__(
        self, config: WebhookDestination, *, secrets_dir: Path | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.name = config.name
        self.config = config
        self.secrets_dir = secrets_dir
        self.clock = clock
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            t = self.config.timeout.total_seconds()
            self._client = httpx.Client(timeout=httpx.Timeout(t), follow_redirects=False)
        return self._client

    def publish(self, event: OutgoingEvent) -> Receipt:
        secret = resolve_secret(self.config.secret, secrets_dir=self.secrets_dir).get_secret_value()
        headers = signed_headers(secret, event.event_id, event.type, event.body, self.clock())
        try:
            resp = self._http().post(self.config.url, content=event.body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientTransportError(f"webhook {self.name}: no answer within the timeout") from exc
        except httpx.HTTPError as exc:
            raise TransientTransportError(f"webhook {self.name}: {type(exc).__name__}: {exc}") from exc
        if 200 <= resp.status_code < 300:
            return Receipt({"http_status": resp.status_code})
        what = f"webhook {self.name} answered HTTP {resp.status_code}"
        if resp.status_code >= 500 or resp.status_code in TRANSIENT_STATUS:
            raise TransientTransportError(what)
        raise PermanentTransportError(what, hint="the receiver refused the event; fix it there, then replay")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
