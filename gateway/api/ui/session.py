"""Support page sign-in: the API key stays on the server; the browser holds only a random session id.

Signing in with an API key creates a :class:`UiSession` kept in this process's memory; the browser gets a cookie
(``gw_session``: HttpOnly, SameSite=Strict, path ``/ui``) with a random id that means nothing elsewhere. The key is
checked again on every page, so a revoked key ends its sessions at once. Sessions end after
``IDLE`` without use or ``LIFETIME`` in all, and on sign-out. Each session has a CSRF token that every form posts.

Several gateway nodes behind one address need sticky sessions for the page (a node that does not know the
session asks to sign in again); the key itself is never put in a cookie or a URL.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from gateway.store.models import ROLE_RANK, ApiRole

COOKIE = "gw_session"
IDLE = 8 * 3600.0
LIFETIME = 24 * 3600.0
MAX_SESSIONS = 10_000


@dataclass(slots=True)
class UiSession:
    sid: str
    token: str = field(repr=False)  # the API key: server-side only, never rendered
    name: str
    role: ApiRole
    csrf: str
    created: float
    seen: float
    flash: tuple[str, str] | None = None  # (ok|error, text): shown once on the next page

    @property
    def actor(self) -> str:
        """How the timeline records who acted from the page."""
        return f"ui:{self.name}"

    def can(self, role: ApiRole) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


class Sessions:
    """Thread-safe in-memory session table (the API runs sync routes in a thread pool)."""

    def __init__(self, *, idle: float = IDLE, lifetime: float = LIFETIME, clock: object = time.monotonic) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._by_id: dict[str, UiSession] = {}

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def open(self, token: str, name: str, role: ApiRole) -> UiSession:
        now = self._now()
        s = UiSession(
            sid=secrets.token_urlsafe(32), token=token, name=name, role=role,
            csrf=secrets.token_urlsafe(24), created=now, seen=now,
        )  # fmt: skip
        with self._lock:
            self._expire(now)
            if len(self._by_id) >= MAX_SESSIONS:  # drop the least recently used
                oldest = min(self._by_id.values(), key=lambda x: x.seen)
                del self._by_id[oldest.sid]
            self._by_id[s.sid] = s
        return s

    def get(self, sid: str | None) -> UiSession | None:
        if not sid:
            return None
        now = self._now()
        with self._lock:
            s = self._by_id.get(sid)
            if s is None:
                return None
            if now - s.seen > self.idle or now - s.created > self.lifetime:
                del self._by_id[sid]
                return None
            s.seen = now
            return s

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)

    def _expire(self, now: float) -> None:
        for sid in [k for k, s in self._by_id.items() if now - s.seen > self.idle or now - s.created > self.lifetime]:
            del self._by_id[sid]
