"""Webhooks: signed HTTP POSTs, in both directions.

Signature (the same both ways)::

    X-Gateway-Timestamp: 1767225600                      Unix seconds when the request was signed
    X-Gateway-Delivery:  0b6f...                         one id per delivery, the same on every retry
    X-Gateway-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + delivery + "." + body)>

The signature covers the delivery id: a captured request sent again under a new id (to pass the idempotency
check as a "new" delivery) does not verify.

Inbound (:class:`WebhookReceiver`, a listening transport): ``handle(body, headers)`` checks the size limit, the
timestamp window (``tolerance_seconds``, against replays) and the signature (constant-time compare), and returns
an :class:`WebhookItem` whose idempotency key is the delivery id, so a delivery sent twice is one message. The
route (api/routes/webhooks.py) hands the item to the inbound flow, which archives it before the route answers 2xx.

Outbound (:class:`WebhookSender`): POST the document with the headers above, a timeout on every request, and
retries with exponential backoff on timeouts, connection errors, 429 and 5xx only (other 4xx are permanent:
401/403 mean the partner refused our signature). The delivery id stays the same across retries. The gateway's
partner channels send with ``attempts=1``: their retries are scheduled, persisted work
(:class:`gateway.flows.retry.DeliveryRetries`), never a sleep in the thread that called ``send``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Literal

from gateway.errors import (
    AuthenticationError,
    PayloadTooLargeError,
    PermanentTransportError,
    SecurityError,
    TransientTransportError,
)
from gateway.logging import get_logger
from gateway.transports.base import Capability, Receipt, ReceiptOutcome, check_name

if TYPE_CHECKING:
    import httpx

log = get_logger(__name__)

TIMESTAMP = "X-Gateway-Timestamp"
SIGNATURE = "X-Gateway-Signature"
DELIVERY = "X-Gateway-Delivery"
FILE_NAME = "X-Gateway-File-Name"
CONTENT_TYPES = {"x12": "application/edi-x12", "csv": "text/csv", "json": "application/json"}


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """One webhook channel. ``secret`` arrives already resolved and never shows in ``repr``."""

    secret: str = field(repr=False)
    url: str | None = None  # outbound: where to POST
    format: Literal["x12", "csv", "json"] = "x12"
    timeout_seconds: float = 30.0
    tolerance_seconds: float = 300.0  # inbound: accepted clock difference (replay window)
    max_bytes: int = 10 * 1024 * 1024
    attempts: int = 5  # outbound: tries within one send, the first included
    backoff_seconds: float = 1.0  # outbound: first wait; doubles each retry
    backoff_max_seconds: float = 30.0


def signature(secret: str, timestamp: str, delivery_id: str, body: bytes) -> str:
    signed = timestamp.encode() + b"." + delivery_id.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, delivery_id: str, now: float) -> dict[str, str]:
    ts = str(int(now))
    return {TIMESTAMP: ts, DELIVERY: delivery_id, SIGNATURE: signature(secret, ts, delivery_id, body)}


def verify(secret: str, body: bytes, headers: Mapping[str, str], *, now: float, tolerance: float) -> str:
    """Check a signed request; returns its delivery id. Raises SecurityError saying what is wrong."""
    h = {k.lower(): v for k, v in headers.items()}
    ts, sig, delivery = h.get(TIMESTAMP.lower()), h.get(SIGNATURE.lower()), h.get(DELIVERY.lower())
    if not ts or not sig or not delivery:
        missing = [n for n, v in ((TIMESTAMP, ts), (SIGNATURE, sig), (DELIVERY, delivery)) if not v]
        raise SecurityError(f"the request lacks {', '.join(missing)}", hint="sign every request (docs/transports.md)")
    if not ts.isdigit():
        raise SecurityError(f"{TIMESTAMP} is not Unix seconds")
    if abs(now - int(ts)) > tolerance:
        raise SecurityError(
            f"{TIMESTAMP} is {int(now) - int(ts)} s away from our clock (more than {int(tolerance)} s)",
            hint="a replayed request, or the sender's clock is wrong",
        )
    if len(delivery) > 200 or not delivery.isprintable():
        raise SecurityError(f"{DELIVERY} is not a usable id")
    if not hmac.compare_digest(sig.strip().encode(), signature(secret, ts, delivery, body).encode()):
        raise SecurityError(
            "the signature does not match the timestamp, delivery id and body",
            hint="check the shared secret; the signature covers timestamp.delivery-id.body (docs/transports.md)",
        )
    return delivery


# -- inbound ------------------------------------------------------------------------------------------------------
@dataclass
class WebhookItem:
    channel: str
    partner_id: str | None
    name: str
    delivery_id: str
    body: bytes
    outcome: BaseException | None = field(default=None, init=False)
    acked: bool = field(default=False, init=False)

    @property
    def transport_id(self) -> str:
        return f"webhook:{self.delivery_id}"

    @property
    def idempotency_key(self) -> str:
        return f"webhook:{self.channel}:{self.delivery_id}"

    @property
    def size(self) -> int:
        return len(self.body)

    def open(self) -> BinaryIO:
        return io.BytesIO(self.body)

    def ack(self, error: BaseException | None = None) -> None:
        """The HTTP answer is the commit: the route answers after the flow archived and acked the item."""
        self.acked, self.outcome = True, error


class WebhookReceiver:
    capabilities = frozenset({Capability.listen, Capability.synchronous_receipt})

    def __init__(self, settings: WebhookSettings, *, channel: str, partner_id: str | None = None) -> None:
        self.settings = settings
        self.channel = channel
        self.partner_id = partner_id

    def handle(self, body: bytes, headers: Mapping[str, str], *, now: float | None = None) -> WebhookItem:
        if len(body) > self.settings.max_bytes:
            raise PayloadTooLargeError(f"the body is over the {self.settings.max_bytes} byte limit")
        now = time.time() if now is None else now
        delivery = verify(self.settings.secret, body, headers, now=now, tolerance=self.settings.tolerance_seconds)
        name = {k.lower(): v for k, v in headers.items()}.get(FILE_NAME.lower()) or f"webhook-{delivery}"
        try:
            check_name(name)
        except PermanentTransportError:
            name = f"webhook-{hashlib.sha256(delivery.encode()).hexdigest()[:16]}"
        return WebhookItem(self.channel, self.partner_id, name, delivery, body)


# -- outbound -----------------------------------------------------------------------------------------------------
def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class WebhookSender:
    capabilities = frozenset({Capability.send, Capability.synchronous_receipt})

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        channel: str,
        client: httpx.Client | None = None,  # httpx imported by send(): a receiving gateway never needs it
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not settings.url:
            raise PermanentTransportError(f"webhook channel {channel} has no url to send to")
        self.settings = settings
        self.channel = channel
        self._client = client
        self._sleep = sleep
        self._clock = clock

    def send(self, name: str, source: BinaryIO, *, delivery_id: str | None = None) -> Receipt:
        check_name(name)
        s = self.settings
        buf = bytearray()
        while chunk := source.read(1 << 16):  # streams may return short reads: read to the end
            buf += chunk
            if len(buf) > s.max_bytes:
                raise PayloadTooLargeError(f"{name} is over the channel's {s.max_bytes} byte limit")
        body = bytes(buf)
        delivery = delivery_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.channel}\0{name}\0{_sha(body)}"))
        import httpx

        client = self._client or httpx.Client(timeout=s.timeout_seconds, follow_redirects=False)
        try:
            return self._deliver(client, name, body, delivery)
        finally:
            if self._client is None:
                client.close()

    def _deliver(self, client: httpx.Client, name: str, body: bytes, delivery: str) -> Receipt:
        import httpx

        s = self.settings
        assert s.url is not None
        wait = s.backoff_seconds
        last = ""
        for attempt in range(1, max(s.attempts, 1) + 1):
            headers = {
                "Content-Type": CONTENT_TYPES[s.format],
                FILE_NAME: name,
                **signed_headers(s.secret, body, delivery, self._clock()),
            }
            try:
                resp = client.post(s.url, content=body, headers=headers, timeout=s.timeout_seconds)
            except httpx.TimeoutException as exc:
                last = f"timed out after {s.timeout_seconds} s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last = f"cannot reach {s.url} ({type(exc).__name__}: {exc})"
            else:
                if 200 <= resp.status_code < 300:
                    return Receipt(
                        transport_id=f"{s.url}#{delivery}",
                        detail={"status": resp.status_code, "delivery_id": delivery, "attempts": attempt},
                        outcome=ReceiptOutcome.completed,
                    )
                if resp.status_code in (401, 403):
                    raise AuthenticationError(f"{s.url} refused the signed request with HTTP {resp.status_code}")
                if not _retryable(resp.status_code):
                    raise PermanentTransportError(f"{s.url} answered HTTP {resp.status_code}: {resp.text[:200]}")
                last = f"HTTP {resp.status_code}"
                after = resp.headers.get("Retry-After", "")
                if after.isdigit():
                    wait = max(wait, float(after))
            log.warning(
                "webhook.retry",
                extra={"fields": {"channel": self.channel, "attempt": attempt, "delivery_id": delivery, "why": last}},
            )
            if attempt < s.attempts:
                self._sleep(min(wait, s.backoff_max_seconds))
                wait *= 2
        raise TransientTransportError(f"{s.url}: {s.attempts} attempts failed, the last with {last}")


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
