"""Channel locks: with several gateway processes on one PostgreSQL store, each channel is polled by one process at
a time. PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a 64-bit hash of the channel
id, held on a dedicated connection for the length of the poll; a process that dies loses its connection and
with it the lock, so a crash never leaves a channel locked. SQLite is one process's embedded store: a lock in
the process is enough (the scheduler already runs one job per channel at a time).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import StoreError


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (the same in every process and every Python version)."""
    return int.from_bytes(hashlib.sha256(f"gateway:channel:{name}".encode()).digest()[:8], "big", signed=True)


class ChannelLocks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.shared = engine.dialect.name == "postgresql"
        self._local: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        """Yields True when this process holds ``name`` now; False when another holds it (skip this run)."""
        with self._guard:
            local = self._local.setdefault(name, threading.Lock())
        if not local.acquire(blocking=False):
            yield False
            return
        try:
            if not self.shared:
                yield True
                return
            yield from self._hold_pg(name)
        finally:
            local.release()

    def _hold_pg(self, name: str) -> Iterator[bool]:
        key = lock_key(name)
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot reach the store to lock channel {name}: {exc}") from exc
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        finally:
            conn.close()
