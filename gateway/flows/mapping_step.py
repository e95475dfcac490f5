"""The mapping step of the inbound flow: an acknowledged X12 message is translated to canonical records.

The records (and the mapping errors, one per transaction set that could not be mapped) are archived as one JSON
document ``{"documents": [...]}`` and recorded as the message's ``canonical`` output, which
``GET /api/messages/{id}/canonical`` serves; their business keys (PO, order, shipment, BOL, PRO, tracking, SSCC)
are added to the search index. The partner's overrides come from ``partners/<id>.mapping.yaml``.

A mapping problem never changes what was acknowledged nor loses the message: it is an event on the timeline
(``mapping.failed`` with each error's segment position and field); the records that did map are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from gateway.canonical.jsonio import DocumentsWriter
from gateway.errors import GatewayError, MappingError
from gateway.flows.batching import KeySink
from gateway.flows.redact import withhold_data
from gateway.logging import get_logger
from gateway.mapping import business_keys, iter_canonical, load_overrides
from gateway.partners.schema import Partner
from gateway.store.archive import Archive
from gateway.store.batch import Batch
from gateway.store.models import Message, OutputKind
from gateway.store.repository import Store

log = get_logger(__name__)
MAX_ERRORS = 50  # mapping errors kept on the timeline event (all are in the archived JSON)


class MappingStep:
    quote_data = False  # mapping errors may quote payload values (edge.quote_data_in_reasons)

    def __init__(self, *, store: Store, archive: Archive, mappings_root: Path | None, overrides_dir: Path | None):
        self.store = store
        self.archive = archive
        self.mappings_root = mappings_root
        self.overrides_dir = overrides_dir
        self._overrides: dict[str, tuple[float | None, dict[str, Any]]] = {}  # partner id -> (mtime, overrides)

    def overrides(self, partner_id: str) -> dict[str, Any]:
        """The partner's ``<id>.mapping.yaml``, read again only when the file changed (hot reload friendly)."""
        if self.overrides_dir is None:
            return {}
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

    def batch(self, msg: Message, partner: Partner) -> Batch:
        """The mapping step's writes, to apply alone or with other steps (group commit).

        Streamed in one pass with bounded memory: each transaction set is mapped, written to the archived JSON
        document and forgotten; only its keys (an ordered set) and the first errors are kept."""
        assert msg.id is not None and msg.archive_key is not None
        batch = Batch()
        tally = _Tally(KeySink(self.store, msg.id, batch))
        try:
            overrides = self.overrides(partner.id)
            with self.archive.open(msg.archive_key) as src:
                results = iter_canonical(src, overrides, file=msg.file_name, root=self.mappings_root)
                first = next(results, None)
                if first is None:
                    return Batch()
                blob = self.archive.put_chunks(tally.documents(chain([first], results)))
        except GatewayError as exc:
            return self._failed(msg, [exc.describe()])
        except Exception as exc:  # a defect in a mapping must not stop the inbound flow; it is shown, not hidden
            log.exception("mapping.crashed")
            return self._failed(msg, [f"the mapping stopped unexpectedly: {type(exc).__name__}: {exc}"])
        tally.keys.close()
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

    def __init__(self, keys: KeySink) -> None:
        self.records = 0
        self.error_count = 0
        self.errors: list[str] = []
        self.keys = keys

    def documents(self, results: Iterable[Any]) -> Iterator[bytes]:
        writer = DocumentsWriter()
        for item in results:
            if isinstance(item, MappingError):
                self.error_count += 1
                if len(self.errors) < MAX_ERRORS:
                    self.errors.append(item.describe())
            else:
                self.records += 1
                self.keys.add(business_keys(item))
            yield writer.add(item)
        yield writer.close()
