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
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.store.batch import Batch
from gateway.store.repository import Store

KEY_CHUNK = 5000


class KeySink:
    def __init__(self, store: Store, message_id: int, batch: Batch, chunk: int = KEY_CHUNK) -> None:
        self.store = store
        self.message_id = message_id
        self.batch = batch
        self.chunk = chunk
        self.count = 0  # distinct within each chunk; exact for files whose keys fit in one chunk
        self.flushed = 0  # chunks written ahead of the step's transaction
        self._pending: dict[tuple[str, str], None] = {}

    def add(self, keys: Iterable[tuple[str, str]]) -> None:
        pending = self._pending
        for key in keys:
            if key not in pending:
                pending[key] = None
                self.count += 1
                if len(pending) >= self.chunk:
                    self.store.apply(Batch().keys(self.message_id, pending))
                    self.flushed += 1
                    pending.clear()

    def close(self) -> None:
        if self._pending:
            self.batch.keys(self.message_id, self._pending)
            self._pending = {}
