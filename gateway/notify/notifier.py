"""The notifier: a queue, a worker thread, deduplication in the store, a rate limit, and the two channels."""

from __future__ import annotations

import queue
import smtplib
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from gateway.errors import GatewayError
from gateway.logging import get_logger
from gateway.notify.model import Notice, Severity, as_email, as_json, as_slack, digest
from gateway.notify.settings import EmailTarget, NotificationSettings, WebhookTarget
from gateway.partners.secrets import resolve_secret
from gateway.store.models import NotificationSent

log = get_logger(__name__)
RETRIES = (1.0, 4.0, 15.0)  # waits between tries of one channel, in the worker thread
HOUR = 3600.0


class ChannelError(Exception):
    pass


def _clip(value: str, n: int) -> str:
    return value if len(value) <= n else value[: n - 1] + "…"


class Notifier:
    def __init__(
        self,
        settings: NotificationSettings,
        engine: Engine,
        *,
        gateway_name: str = "gateway",
        secrets_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        tick: float = 5.0,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.gateway_name = gateway_name
        self.secrets_dir = secrets_dir
        self._clock = clock
        self._sleep = sleep
        self._tick = tick  # how often held (rate-limited) notices are looked at when nothing new comes
        self._queue: queue.Queue[Notice | None] = queue.Queue(maxsize=10_000)
        self._sent_times: deque[float] = deque()
        self._held: list[Notice] = []
        self._thread: threading.Thread | None = None
        self.sent: list[Notice] = []  # what went out from this process (newest last, bounded): for the API/tests
        self.suppressed = 0

    # -- the hook -----------------------------------------------------------------------------------------------
    def notify(
        self,
        kind: str,
        *,
        key: str,
        subject: str,
        text: str,
        severity: Severity = "warning",
        fields: dict[str, Any] | None = None,
    ) -> None:
        """Queue a notice (never blocks, never raises). See the package docstring."""
        if not self.settings.enabled:
            return
        if self.settings.kinds is not None and kind not in self.settings.kinds:
            return
        notice = Notice(kind=kind, key=_clip(key, 255), subject=subject, text=text, severity=severity,
                        fields=dict(fields or {}))  # fmt: skip
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            log.error("notify.queue_full", extra={"fields": {"kind": kind}})

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None and self.settings.enabled:
            self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=timeout)
            self._thread = None

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued notice was handled (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)

    # -- worker -------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._tick)
            except queue.Empty:
                self._flush_held()
                continue
            try:
                if item is None:
                    return
                self._handle(item)
            except Exception:
                log.exception("notify.failed", extra={"fields": {"kind": getattr(item, "kind", None)}})
            finally:
                self._queue.task_done()

    def _handle(self, n: Notice) -> None:
        if not self._claim(n):
            self.suppressed += 1
            log.info("notify.deduplicated", extra={"fields": {"kind": n.kind, "key": n.key}})
            return
        if not self._allowed():
            self._held.append(n)
            log.warning("notify.rate_limited", extra={"fields": {"kind": n.kind, "held": len(self._held)}})
            return
        self._flush_held()
        if not self._deliver(n):
            self._release(n)

    def _allowed(self) -> bool:
        now = self._clock()
        while self._sent_times and now - self._sent_times[0] > HOUR:
            self._sent_times.popleft()
        return len(self._sent_times) < self.settings.max_per_hour

    def _flush_held(self) -> None:
        if self._held and self._allowed():
            held, self._held = self._held, []
            self._deliver(digest(held))

    # -- deduplication in the store -------------------------------------------------------------------------------
    def _claim(self, n: Notice) -> bool:
        """True when this notice should go out now (first time, or repeat_hours since it last did)."""
        now = datetime.now(UTC)
        with Session(self.engine) as s:
            s.add(NotificationSent(kind=n.kind, dedup_key=n.key, first_at=now, last_sent_at=now))
            try:
                s.commit()
                return True
            except IntegrityError:
                s.rollback()
            cutoff = now - timedelta(hours=self.settings.repeat_hours)
            where = (col(NotificationSent.kind) == n.kind, col(NotificationSent.dedup_key) == n.key)
            res: Any = s.execute(
                update(NotificationSent)
                .where(*where, col(NotificationSent.last_sent_at) < cutoff)
                .values(last_sent_at=now)
            )
            if res.rowcount == 1:
                s.commit()
                return True
            s.execute(
                update(NotificationSent).where(*where).values(suppressed=col(NotificationSent.suppressed) + 1)
            )
            s.commit()
            return False

    def _release(self, n: Notice) -> None:
        """Every channel failed: let the next occurrence try again instead of waiting repeat_hours."""
        with Session(self.engine) as s:
            s.execute(
                update(NotificationSent)
                .where(col(NotificationSent.kind) == n.kind, col(NotificationSent.dedup_key) == n.key)
                .values(last_sent_at=datetime(1970, 1, 1, tzinfo=UTC))
            )
            s.commit()

    # -- channels -----------------------------------------------------------------------------------------------
    def _deliver(self, n: Notice) -> bool:
        channels: list[tuple[str, Callable[[Notice], None]]] = []
        if self.settings.webhook is not None:
            wh = self.settings.webhook
            channels.append(("webhook", lambda x: self._webhook(wh, x)))
        if self.settings.email is not None:
            em = self.settings.email
            channels.append(("email", lambda x: self._email(em, x)))
        ok = False
        for name, send in channels:
            for attempt, wait in enumerate((0.0, *RETRIES)):
                if wait:
                    self._sleep(wait)
                try:
                    send(n)
                except (ChannelError, GatewayError) as exc:
                    reason = exc.describe() if isinstance(exc, GatewayError) else str(exc)
                    log.warning(
                        "notify.channel_failed",
                        extra={"fields": {"channel": name, "kind": n.kind, "attempt": attempt + 1, "error": reason}},
                    )
                    continue
                ok = True
                log.info("notify.sent", extra={"fields": {"channel": name, "kind": n.kind, "key": n.key}})
                break
        if ok:
            self._sent_times.append(self._clock())
            self.sent = [*self.sent[-99:], n]
        return ok

    def _webhook(self, target: WebhookTarget, n: Notice) -> None:
        body = (as_slack if target.format == "slack" else as_json)(n, gateway=self.gateway_name)
        headers = {k: resolve_secret(v, secrets_dir=self.secrets_dir).get_secret_value() for k, v in
                   target.headers.items()}  # fmt: skip
        import httpx  # here: a gateway whose notifications go nowhere over HTTP never loads it

        try:
            r = httpx.post(target.url, json=body, headers=headers, timeout=target.timeout_seconds)
        except httpx.HTTPError as exc:
            raise ChannelError(f"{type(exc).__name__} posting to the notification webhook") from exc
        if r.status_code >= 300:
            raise ChannelError(f"the notification webhook answered HTTP {r.status_code}")

    def _email(self, target: EmailTarget, n: Notice) -> None:
        msg = as_email(n, gateway=self.gateway_name, sender=target.sender, to=target.to)
        try:
            smtp: smtplib.SMTP
            if target.security == "ssl":
                smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout_seconds,
                                        context=ssl.create_default_context())  # fmt: skip
            else:
                smtp = smtplib.SMTP(target.host, target.port, timeout=target.timeout_seconds)
            with smtp:
                if target.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if target.username:
                    password = (
                        resolve_secret(target.password, secrets_dir=self.secrets_dir).get_secret_value()
                        if target.password
                        else ""
                    )
                    smtp.login(target.username, password)
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(f"{type(exc).__name__} sending email via {target.host}:{target.port}") from exc
