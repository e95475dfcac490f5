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

Also on PostgreSQL, a chunk's keys the sink has not written before (:class:`Written`, a Bloom filter) go by a plain
``INSERT`` rather than ``INSERT ... ON CONFLICT DO NOTHING`` (gateway.store.key_index.insert_new_keys: a fifth less
of the server's CPU per key; the 10 MB file's intake is bound by the server's inserts); the others (a PRO number
in every set) and, once one turned out recorded already (a file read again), every later chunk go the usual way.

:class:`KeyTap` feeds a sink from an analysis's reader batches as it reads them (a large file's envelope step).
Its chunks are written before the analysis decides whether the file is usable: the step notes in the store where
the keys of its reading begin (``before_first_chunk``: gateway.store.records.mark_key_reading), and a refused
reading deletes those keys and only those (records.forget_unsettled_keys).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Container, Iterable

from gateway.edi.x12.reader import ReaderEvent
from gateway.errors import GatewayError
from gateway.flows.business_keys import KeySegments, iter_business_keys
from gateway.logging import get_logger
from gateway.store.batch import Batch
from gateway.store.repository import Store

log = get_logger(__name__)

KEY_CHUNK = 5000
MASK = (1 << 23) - 1  # the bits of a Written filter, less one


class KeySink:
    def __init__(self, store: Store, message_id: int, batch: Batch, chunk: int = KEY_CHUNK, *,
                 background: bool | None = None, before_first_chunk: Callable[[], object] | None = None) -> None:
        self.store = store
        # called (in the caller's thread) before the first chunk is written ahead of the step: the envelope step
        # notes where the keys of its reading begin (records.mark_key_reading), to delete them if it is refused
        self.before_first_chunk = before_first_chunk
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
        # on PostgreSQL, new keys go by a plain INSERT (until one turns out recorded, see _split), and the keys
        # written in chunks so far (made at the first chunk: most files have none)
        self._plain = self.background
        self._seen: Written | None = None
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
        if not self.flushed and self.before_first_chunk is not None:
            self.before_first_chunk()
        self.flushed += 1
        if not chunk:  # every key of the chunk was known
            return
        if not self.background:
            self.store.apply(chunk)
            return
        self._writer = threading.Thread(target=self._write, args=self._split(chunk), name="key-sink", daemon=True)
        self._writer.start()

    def _split(self, chunk: Batch) -> tuple[list[Batch], Batch | None]:
        """The chunk's rows this sink has not written before go as a batch of ``fresh_keys`` (returned second: a
        plain INSERT on PostgreSQL, see key_index.insert_new_keys), the others (a PRO or PO number shared by many
        sets comes in many chunks) the usual way; once some key turned out recorded already (the file read again:
        a reprocess, a resumed message), every later chunk goes the usual way."""
        if not self._plain:
            return [chunk], None
        if self._seen is None:
            self._seen = Written()
        again, fresh = Batch(), Batch(fresh_keys=True)
        seen = self._seen
        for row in chunk.key_rows:
            (again if seen.add((row["kind"], row["value"])) else fresh).key_rows.append(row)
        return [b for b in (again, fresh) if b.key_rows], fresh

    def _write(self, batches: list[Batch], fresh: Batch | None) -> None:
        try:
            self.store.apply(*batches)
        except BaseException as exc:  # handed to the caller's thread by _wait
            self._error = exc
            return
        if fresh is not None and fresh.key_rows and not fresh.fresh_keys:  # some were recorded: no more tries
            self._plain = False

    def _wait(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.join()
        error, self._error = self._error, None
        if error is not None:
            raise error


class KeyTap:
    """An analysis's ``tap`` (:func:`gateway.edi.x12.analyze`) that gives the business keys of each reader batch to
    a :class:`KeySink` as the analysis reads it: the file is read once, and on PostgreSQL the writing of a full chunk
    of keys overlaps the reading and validation of the next batches instead of starting after them. A batch whose
    keys cannot be read stops the indexing there (logged; the analysis reports the segments)."""

    def __init__(self, sink: KeySink) -> None:
        self.sink = sink
        self.segments = KeySegments()
        self.stopped = False

    def __call__(self, batch: list[str | ReaderEvent]) -> None:
        if self.stopped:
            return
        try:
            self.sink.add(iter_business_keys(self.segments.of(batch)))
        except GatewayError as exc:  # unreadable segments are reported by the analysis, not here
            self.stopped = True
            log.warning("business_keys.unreadable", extra={"fields": {"error": exc.describe()}})


class Written:
    """Which keys were written (a Bloom filter, 1 MB whatever the file's size: a 100 MB file's 1.4 million keys
    leave about 1 in 12 new keys taken for written, which then only go by the slower ON CONFLICT statement)."""

    def __init__(self) -> None:
        self.bits = bytearray((MASK + 1) >> 3)

    def add(self, key: tuple[str, str]) -> bool:
        """Mark ``key`` written; whether it may have been before (False: certainly not). Two bits a key."""
        h = hash(key)
        bits = self.bits
        p, q = h & MASK, (h >> 32) & MASK
        seen = bool(bits[p >> 3] & (1 << (p & 7))) and bool(bits[q >> 3] & (1 << (q & 7)))
        bits[p >> 3] |= 1 << (p & 7)
        bits[q >> 3] |= 1 << (q & 7)
        return seen


def _to_write(pending: dict[tuple[str, str], bool]) -> list[tuple[str, str]]:
    return [key for key, known in pending.items() if not known]
