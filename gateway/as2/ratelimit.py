"""A token-bucket rate limiter per client, for unauthenticated requests (AS2 from senders we do not know).

Each key (a client address) holds up to ``burst`` tokens, refilled at ``rate`` per second; a request takes one or
is refused with the seconds to wait. All keys together also draw on one shared bucket (``total_factor`` times the
per-client rate and burst), so a flood spread over many addresses is bounded too. Buckets of idle clients are
dropped, so memory stays bounded (``max_keys``); when the table is full, new addresses share one overflow bucket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

OVERFLOW = "\0overflow"
TOTAL = "\0total"


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        total_factor: float = 10.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.total_factor = total_factor
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 when the request may go on; otherwise the seconds until one token is back (answer 429)."""
        now = self.clock()
        with self._lock:
            if key not in self._buckets and len(self._buckets) >= self.max_keys:
                self._prune(now)
                if len(self._buckets) >= self.max_keys:
                    key = OVERFLOW
            mine = self._level(key, now, 1.0)
            total = self._level(TOTAL, now, self.total_factor)
            if mine >= 1.0 and total >= 1.0:
                self._buckets[key], self._buckets[TOTAL] = (mine - 1.0, now), (total - 1.0, now)
                return 0.0
            self._buckets[key], self._buckets[TOTAL] = (mine, now), (total, now)
            return max((1.0 - mine) / self.rate, (1.0 - total) / (self.rate * self.total_factor), 0.001)

    def _level(self, key: str, now: float, factor: float) -> float:
        tokens, last = self._buckets.get(key, (self.burst * factor, now))
        return min(self.burst * factor, tokens + (now - last) * self.rate * factor)

    def _prune(self, now: float) -> None:
        full = self.burst / self.rate  # seconds for an empty bucket to refill: then it is as good as new
        for k, (_tokens, last) in list(self._buckets.items()):
            if k != TOTAL and now - last >= full:
                del self._buckets[k]
