"""The mapping step of the inbound flow: an acknowledged X12 message is translated to canonical records.

The records (and the mapping errors, one per transaction set that could not be mapped) are archived as one JSON
document ``{"documents": [...]}`` and recorded as the message's ``canonical`` output, which
``GET /api/messages/{id}/canonical`` serves; their business keys (PO, order, shipment, BOL, PRO, tracking, SSCC)
are added to the search index. The partner's overrides come from ``partners/<id>.mapping.yaml``.

A mapping problem never changes what was acknowledged nor loses the message: it is an event on the timeline
(``mapping.failed`` with each error's segment position and field); the records that did map are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.canonical.jsonio import documents_json
from gateway.errors import GatewayError, MappingError
from gateway.flows.redact import withhold_data
from gateway.logging import get_logger
from gateway.mapping import business_keys, load_overrides, to_canonical
from gateway.partners.schema import Partner
from gateway.store.archive import Archive
from gateway.store.models import Message, OutputKind
from gateway.store.repository import Store

log = get_logger(__name__)


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
        assert msg.id is not None and msg.archive_key is not None
        try:
            overrides = self.overrides(partner.id)
            with self.archive.open(msg.archive_key) as src:
                results = to_canonical(src, overrides, file=msg.file_name, root=self.mappings_root)
        except GatewayError as exc:
            self._failed(msg, [exc.describe()])
            return
        except Exception as exc:  # a defect in a mapping must not stop the inbound flow; it is shown, not hidden
            log.exception("mapping.crashed")
            self._failed(msg, [f"the mapping stopped unexpectedly: {type(exc).__name__}: {exc}"])
            return
        records = [r for r in results if not isinstance(r, MappingError)]
        errors = [r for r in results if isinstance(r, MappingError)]
        if not results:
            return
        blob = self.archive.put_bytes(documents_json(list(results)).encode())
        self.store.record_output(
            msg.id,
            kind=OutputKind.canonical,
            blob=blob,
            content_type="application/json",
            file_name=f"{msg.file_name or msg.id}.canonical.json",
        )
        keys: list[tuple[str, str]] = []
        for record in records:
            keys += [k for k in business_keys(record) if k not in keys]
        if keys:
            self.store.record_business_keys(msg.id, keys)
        if errors:
            self._failed(msg, [e.describe() for e in errors], mapped=len(records))
        else:
            self.store.add_event(msg.id, "mapping.done", detail={"records": len(records), "keys": len(keys)})

    def _failed(self, msg: Message, reasons: list[str], mapped: int = 0) -> None:
        assert msg.id is not None
        reasons = [withhold_data(r, quote_data=self.quote_data) for r in reasons]
        log.warning("mapping.failed", extra={"fields": {"errors": len(reasons), "mapped": mapped}})
        self.store.add_event(msg.id, "mapping.failed", detail={"records": mapped, "errors": reasons[:50]})
