"""Helpers for writing a flow step through the batched store path (:mod:`gateway.store.batch`) with bounded memory.

:class:`KeySink` takes a stream of business keys (a large interchange has hundreds of thousands). Up to ``chunk``
distinct keys ride in the step's own :class:`~gateway.store.batch.Batch`, so a normal file's keys are written in
the step's single transaction; past that, each full chunk is written at once in its own short transaction (keys are
an idempotent search index: a chunk written before a crash is simply found again, never duplicated), so memory
stays bounded whatever the file size::

    sink = KeySink(store, msg.id, batch)
    for record in records:
        sink.add(business_keys(record))
    sink.close()               # the rest go into ``batch``; sink.count is how many distinct keys were seen

On PostgreSQL (``background``), a full chunk is written by a writer thread while the caller goes on reading or
mapping: the database's work on one chunk (its five indexes, the foreign key check: about 40 us a key, in another
process) and the round trip overlap the parsing of the next, instead of the step waiting for them. At most one
chunk is in flight, so memory stays bounded at two chunks. :meth:`KeySink.close` waits for it and raises what the write
raised, before the rest of the keys join the step: the step's transaction still commits after every chunk of its
keys, as when the chunks were written in line. A write error is also raised by the next :meth:`KeySink.add` that
fills a chunk. A caller that gives up on the step calls :meth:`KeySink.drain` (waits, raises nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Container, Iterable

from gateway.store.batch import Batch
from gateway.store.repository import Store

KEY_CHUNK = 5000


class KeySink:
    def __init__(self, store: Store, message_id: int, batch: Batch, chunk: int = KEY_CHUNK, *,
                 background: bool | None = None) -> None:
        self.store = store
        self.message_id = message_id
        self.batch = batch
        self.chunk = chunk
        # by default on PostgreSQL only: there the chunk's cost is the server's (another process) and a round trip;
        # SQLite's insert runs in this process, mostly under the GIL, so a thread would mostly add switches
        self.background = store.engine.dialect.name != "sqlite" if background is None else background
        self.count = 0  # distinct within each chunk; exact for files whose keys fit in one chunk
        self.flushed = 0  # chunks written ahead of the step's transaction
        self._pending: dict[tuple[str, str], bool] = {}  # key -> known (not to write)
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None

    def add(self, keys: Iterable[tuple[str, str]], known: Container[tuple[str, str]] = ()) -> None:
        """``known``: keys the store already holds for the message (counted as the others, not written again)."""
        pending = self._pending
        for key in keys:
            if key not in pending:
                pending[key] = key in known
                self.count += 1
                if len(pending) >= self.chunk:
                    self._flush(Batch().keys(self.message_id, _to_write(pending)))
                    pending = self._pending = {}

    def close(self) -> None:
        self._wait()
        if self._pending:
            self.batch.keys(self.message_id, _to_write(self._pending))
            self._pending = {}

    def drain(self) -> None:
        """Wait for a chunk still being written, raising nothing (the step is given up anyway)."""
        try:
            self._wait()
        except Exception:  # noqa: S110 - reported by the step's own failure; the keys are an idempotent index
            pass

    def _flush(self, chunk: Batch) -> None:
        self._wait()
        self.flushed += 1
        if not chunk:  # every key of the chunk was known
            return
        if not self.background:
            self.store.apply(chunk)
            return
        self._writer = threading.Thread(target=self._write, args=(chunk,), name="key-sink", daemon=True)
        self._writer.start()

    def _write(self, chunk: Batch) -> None:
        try:
            self.store.apply(chunk)
        except BaseException as exc:  # handed to the caller's thread by _wait
            self._error = exc

    def _wait(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.join()
        error, self._error = self._error, None
        if error is not None:
            raise error


def _to_write(pending: dict[tuple[str, str], bool]) -> list[tuple[str, str]]:
    return [key for key, known in pending.items() if not known]
