"""The mapping step of the inbound flow: an acknowledged X12 message is translated to canonical records.

The records (and the mapping errors, one per transaction set that could not be mapped) are archived as one JSON
document ``{"documents": [...]}`` and recorded as the message's ``canonical`` output, which
``GET /api/messages/{id}/canonical`` serves; their business keys (PO, order, shipment, BOL, PRO, tracking, SSCC)
are added to the search index. The partner's overrides come from ``partners/<id>.mapping.yaml``.

A mapping problem never changes what was acknowledged nor loses the message: it is an event on the timeline
(``mapping.failed`` with each error's segment position and field); the records that did map are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any

from gateway.canonical.jsonio import DocumentsWriter
from gateway.errors import GatewayError, MappingError
from gateway.failpoints import FailPoints
from gateway.flows import mapping_split
from gateway.flows.batching import KeySink
from gateway.flows.business_keys import iter_business_keys
from gateway.flows.mapping_split import SplitFailed
from gateway.flows.redact import withhold_data
from gateway.logging import get_logger
from gateway.mapping import business_keys, iter_mapped, load_overrides
from gateway.mapping.x12 import TransactionData
from gateway.partners.schema import Partner
from gateway.store.archive import Archive
from gateway.store.batch import Batch
from gateway.store.models import Message, OutputKind
from gateway.store.records import MAX_KEY_LENGTH, normalise_keys
from gateway.store.repository import Store

log = get_logger(__name__)
MAX_ERRORS = 50  # mapping errors kept on the timeline event (all are in the archived JSON)
KEEP_RECORDS = 200  # a message with up to this many sets is handed to the hand-off as it was mapped (see Mapped)
KEEP_BYTES = 1 << 20  # ... and up to this much canonical JSON text
SPLIT_BYTES = 2 << 20  # an X12 message this large is mapped by this process and a forked child (mapping_split)

# What the hand-off needs of a message just mapped, so that it does not read the archived canonical JSON back and
# validate every record again to find its keys: one entry per document of the output, in order: the record's
# archived text (None for a set that could not be mapped) and its business keys (None: not known here; the
# hand-off finds them from the record). Text, not the parsed dicts: strings are not tracked by the garbage
# collector, while a batch's records held as dicts from mapping to hand-off reach its oldest generation and make
# its full collections (every object of the process) several times more frequent.
Mapped = list[tuple[str | None, tuple[tuple[str, str], ...] | None]]


class MappingStep:
    quote_data = False  # mapping errors may quote payload values (edge.quote_data_in_reasons)

    def __init__(self, *, store: Store, archive: Archive, mappings_root: Path | None, overrides_dir: Path | None,
                 split_bytes: int | None = SPLIT_BYTES, failpoints: FailPoints | None = None):
        self.store = store
        self.archive = archive
        self.split_bytes = split_bytes  # a message this large is mapped on two cores (None: never)
        self.failpoints = failpoints or FailPoints()
        self.mappings_root = mappings_root
        self.overrides_dir = overrides_dir
        self._overrides: dict[str, tuple[float | None, dict[str, Any]]] = {}  # partner id -> (mtime, overrides)
        self._local = threading.local()  # .pinned within pinned(): partner id -> overrides (per poller thread)

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Within the block, each partner's overrides file is looked at once (a batch of files: one ``stat``, not
        one per file), and so is each mapping it uses (:func:`gateway.mapping.x12.mapping_for`: the overrides'
        text and the mapping file's ``stat``, once per set and version); a change made meanwhile is seen by the
        next batch."""
        local = self._local
        outer, outer_specs = getattr(local, "pinned", None), getattr(local, "specs", None)
        local.pinned, local.specs = {}, {}
        try:
            yield
        finally:
            local.pinned, local.specs = outer, outer_specs

    def overrides(self, partner_id: str) -> dict[str, Any]:
        """The partner's ``<id>.mapping.yaml``, read again only when the file changed (hot reload friendly)."""
        if self.overrides_dir is None:
            return {}
        pinned: dict[str, dict[str, Any]] | None = getattr(self._local, "pinned", None)
        if pinned is not None:
            got = pinned.get(partner_id)
            if got is None:
                got = pinned[partner_id] = self._read_overrides(partner_id)
            return got
        return self._read_overrides(partner_id)

    def _specs(self, partner_id: str) -> dict[tuple[str, str], Any] | None:
        """The mappings already looked up for the partner within :meth:`pinned` (None outside: looked up again)."""
        specs: dict[str, dict[tuple[str, str], Any]] | None = getattr(self._local, "specs", None)
        if specs is None:
            return None
        found = specs.get(partner_id)
        if found is None:
            found = specs[partner_id] = {}
        return found

    def _read_overrides(self, partner_id: str) -> dict[str, Any]:
        assert self.overrides_dir is not None
        path = self.overrides_dir / f"{partner_id}.mapping.yaml"
        try:
            mtime: float | None = path.stat().st_mtime
        except OSError:
            mtime = None
        cached = self._overrides.get(partner_id)
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_overrides(path) if mtime is not None else {})
            self._overrides[partner_id] = cached
        return cached[1]

    def run(self, msg: Message, partner: Partner) -> None:
        """Map, archive the canonical JSON and record it with the keys and the outcome event (one transaction)."""
        self.store.apply(self.batch(msg, partner))

    def batch(self, msg: Message, partner: Partner, keep: dict[int, Mapped] | None = None,
              written: frozenset[tuple[str, str]] = frozenset(),
              reader_batches: list[list[Any]] | None = None) -> Batch:
        """The mapping step's writes, to apply alone or with other steps (group commit).

        Streamed in one pass with bounded memory: each transaction set is mapped, written to the archived JSON
        document and forgotten; only its keys (an ordered set) and the first errors are kept. With ``keep``, a
        message of up to :data:`KEEP_RECORDS` sets whose output is recorded also gets its :data:`Mapped` there
        (for :meth:`gateway.flows.handoff.HandoffFlow.release_many`, once the batch is applied). ``written``: keys
        of the message the caller has just recorded (its envelope step): not inserted again (the index would keep
        them once anyway); the ``mapping.done`` event counts them all the same. ``reader_batches``: the archived
        bytes' reader batches as the caller's analysis of them read them (:func:`~gateway.edi.x12.analyze`'s
        ``tap``), mapped instead of reading the archive again (the same sets, segments and positions)."""
        assert msg.id is not None and msg.archive_key is not None
        if self.split_bytes is not None and (msg.size or 0) >= self.split_bytes and mapping_split.available():
            try:
                return self._batch(msg, partner, keep, written, split=True)
            except SplitFailed as exc:  # the child did not deliver: this process maps the file alone
                log.warning("mapping.split_failed", extra={"fields": {"error": str(exc)}})
        return self._batch(msg, partner, keep, written, reader_batches=reader_batches)

    def _batch(self, msg: Message, partner: Partner, keep: dict[int, Mapped] | None,
               written: frozenset[tuple[str, str]], split: bool = False,
               reader_batches: list[list[Any]] | None = None) -> Batch:
        assert msg.id is not None and msg.archive_key is not None
        key = msg.archive_key
        batch = Batch()
        # keys the caller just recorded are not written again; otherwise those the envelope step indexed are not
        tally = _Tally(KeySink(self.store, msg.id, batch), keep=keep is not None, written=written)
        try:
            overrides = self.overrides(partner.id)
            with ExitStack() as stack:
                if split:  # every other block of sets mapped by a forked child (mapping_split)
                    mapped = mapping_split.split_mapped(
                        lambda: self.archive.open(key), overrides, file=msg.file_name, root=self.mappings_root,
                        work=partial(_premap, known=not written), stack=stack, hit=self.failpoints.hit)
                elif reader_batches is not None:  # read by the caller's analysis of the archived bytes
                    mapped = iter_mapped(None, overrides, file=msg.file_name, root=self.mappings_root,
                                         batches=reader_batches, specs=self._specs(partner.id))
                else:
                    src = stack.enter_context(self.archive.open(key))
                    mapped = iter_mapped(src, overrides, file=msg.file_name, root=self.mappings_root,
                                         specs=self._specs(partner.id))
                results = tally.sets(mapped)
                first = next(results, None)
                if first is None:
                    return Batch()
                blob = self.archive.put_chunks(tally.documents(chain([first], results)))
        except SplitFailed:
            tally.keys.drain()
            raise
        except GatewayError as exc:
            tally.keys.drain()
            return self._failed(msg, [exc.describe()])
        except Exception as exc:  # a defect in a mapping must not stop the inbound flow; it is shown, not hidden
            tally.keys.drain()
            log.exception("mapping.crashed")
            return self._failed(msg, [f"the mapping stopped unexpectedly: {type(exc).__name__}: {exc}"])
        except BaseException:
            tally.keys.drain()
            raise
        tally.keys.close()  # (written keys were left out by _Tally.known_of: no second pass over the rows)
        if keep is not None and tally.kept is not None:
            keep[msg.id] = tally.kept
        batch.output(
            msg.id,
            kind=OutputKind.canonical,
            blob=blob,
            content_type="application/json",
            file_name=f"{msg.file_name or msg.id}.canonical.json",
        )
        if tally.errors:
            return batch.extend(self._failed(msg, tally.errors, mapped=tally.records, errors=tally.error_count))
        return batch.event(msg.id, "mapping.done", detail={"records": tally.records, "keys": tally.keys.count})

    def _failed(self, msg: Message, reasons: list[str], mapped: int = 0, errors: int | None = None) -> Batch:
        assert msg.id is not None
        reasons = [withhold_data(r, quote_data=self.quote_data) for r in reasons]
        log.warning("mapping.failed", extra={"fields": {"errors": errors or len(reasons), "mapped": mapped}})
        return Batch().event(msg.id, "mapping.failed", detail={"records": mapped, "errors": reasons[:MAX_ERRORS]})


class _Tally:
    """What the streamed mapping keeps: counts, the first errors; business keys go to a bounded :class:`KeySink`."""

    def __init__(self, keys: KeySink, *, keep: bool = False,
                 written: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.records = 0
        self.error_count = 0
        self.errors: list[str] = []
        self.keys = keys
        self.kept: Mapped | None = [] if keep else None  # None once the message is too large to keep
        self._kept_bytes = 0
        self._set: TransactionData | None = None  # the transaction set of the item being written
        self._written = written  # keys the caller recorded (not written again); when none, see _known

    def sets(self, mapped: Iterable[tuple[TransactionData, Any]]) -> Iterator[Any]:
        """The items of :func:`gateway.mapping.iter_mapped`, noting each one's transaction set (see _known); a set
        mapped by the split's child comes as its :func:`_premap` result (a tuple)."""
        for tx, item in mapped:
            self._set = tx
            yield item
        self._set = None

    def _known(self) -> frozenset[tuple[str, str]]:
        """The keys the envelope step indexed from the current set's segments (normalised as the store does).

        The envelope step indexes the keys of every segment of a file holding an interchange
        (:meth:`gateway.flows.inbound.InboundFlow._index_keys`), reading the same archived bytes with the same
        reader: a set the mapping reads after an ISA header was read whole by that step too, so its keys are in
        the store before the mapping runs. A record's keys among them (its shipment id, BOL, PO, SSCC: for an
        856, all of them) are counted as before but not written again: on a 10,000-set file, 90,000 inserts that
        changed nothing."""
        return _known(self._set, not self._written)

    def known_of(self, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Those of a record's ``keys`` that are in the store already: the caller's (``written``, compared as the
        store normalises them), or the envelope step's (:meth:`_known`).

        Every key the caller wrote is found here: a record's keys (:func:`gateway.canonical.keys.business_keys`)
        have kinds the store keeps as they are and stripped values, so :func:`~gateway.store.records.normalise_keys`
        only cuts their values to ``MAX_KEY_LENGTH``, as done here."""
        written = self._written
        if written:
            return [k for k in keys if (k[0], str(k[1]).strip()[:MAX_KEY_LENGTH]) in written]
        return _known_of(keys, self._known())

    def _count(self, error: str | None) -> None:
        """One more document: a record (``error`` None) or a mapping error (its first ones kept)."""
        if error is None:
            self.records += 1
            return
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)

    def documents(self, results: Iterable[Any]) -> Iterator[bytes]:
        writer = DocumentsWriter()
        lost: list[str] = []
        for item in results:
            if type(item) is tuple:  # mapped by the split's child (_premap)
                error, text, keys, to_keep = item
                self._count(error)
                if error is None:
                    self.keys.add(keys[0], self.known_of(keys[0]) if self._written else keys[1])
                chunk = writer.add_text(text)
                self._keep(text if error is None else None, to_keep)
            elif isinstance(item, MappingError):
                self._count(item.describe())
                chunk = writer.add(item)
                self._keep(None, None)
            else:
                self._count(None)
                keys = business_keys(item)
                self.keys.add(keys, self.known_of(keys))
                chunk = writer.add(item, lost, fresh=True)  # as map_transaction validated it
                # kept as read back from the archive; its keys hold for that unless a required value was pruned
                # from the text (which then no longer parses back: the hand-off finds what it finds)
                self._keep(writer.text, None if lost else keys)
                lost.clear()
            yield chunk
        yield writer.close()

    def _keep(self, text: str | None, keys: list[tuple[str, str]] | None) -> None:
        kept = self.kept
        if kept is None:
            return
        self._kept_bytes += len(text or "")
        if len(kept) >= KEEP_RECORDS or self._kept_bytes > KEEP_BYTES:
            self.kept = None  # a large message: the hand-off reads its output back one record at a time
            return
        kept.append((text, tuple(keys) if keys is not None else None))


def _known(tx: TransactionData | None, use_known: bool) -> frozenset[tuple[str, str]]:
    """:meth:`_Tally._known` of a set."""
    if tx is None or not tx.enveloped or not use_known:
        return frozenset()
    return frozenset(normalise_keys(iter_business_keys(tx.segments)))


def _known_of(keys: list[tuple[str, str]], known: frozenset[tuple[str, str]]) -> list[tuple[str, str]]:
    return [k for k in keys if (k[0], k[1][:MAX_KEY_LENGTH]) in known] if known else []


def _premap(tx: TransactionData, item: Any, *, known: bool) -> tuple[Any, ...]:
    """What :meth:`_Tally.documents` needs of a set the split's child mapped (computed in the child, pickled):
    ``(error description or None, the entry's text, (keys, known keys) or None, keys to keep or None)``."""
    writer = DocumentsWriter()
    if isinstance(item, MappingError):
        writer.add(item)
        return item.describe(), writer.text, None, None
    lost: list[str] = []
    writer.add(item, lost, fresh=True)
    keys = business_keys(item)
    return None, writer.text, (keys, _known_of(keys, _known(tx, known))), None if lost else keys
