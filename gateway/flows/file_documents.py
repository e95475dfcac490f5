"""CSV and XML documents from partners: the inbound counterpart of X12 for a partner that declares them.

A partner file declares ``{format: csv, record: order, direction: inbound}`` (or ``format: xml``); a file that
arrives on one of that partner's channels (folder, SFTP, AS2, webhook: the channel names the partner, there is no
envelope to read) and is not X12 is taken here, from the archived copy (the inbound flow archived it first).

It is checked against its column map (``mappings/csv/<record>.yaml``) or the
record type's XSD: a CSV header with a column the map does not know, or without the columns that group rows into
records, fails the file at row 1 naming the column; a value the canonical record refuses names its row and
column. A file with any error is failed as a whole (the partner corrects it and sends it again; nothing of it is
handed off), with every error (up to 50) on the timeline. A clean file's records are archived as the message's
canonical output, indexed for search, and handed off like mapped X12 (status ``processed``: no 997 exists for
CSV or XML). Memory stays flat: CSV rows are read in chunks.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from gateway.canonical.jsonio import documents_json
from gateway.canonical.keys import business_keys
from gateway.errors import DocumentError, GatewayError, Location, MappingError
from gateway.logging import get_logger
from gateway.mapping.csvio import column_map, read_csv
from gateway.partners.schema import DocumentSpec, Partner
from gateway.store.archive import Archive
from gateway.store.models import MessageStatus, OutputKind
from gateway.store.repository import Store

log = get_logger(__name__)
MAX_ERRORS = 50
SNIFF = 4096


class FileDocumentError(DocumentError):
    """A CSV or XML document that does not match its column map or schema (every error has row and column)."""


class FileDocuments:
    def __init__(self, *, store: Store, archive: Archive, mappings_root: Path | None) -> None:
        self.store = store
        self.archive = archive
        self.mappings_root = mappings_root

    def spec_for(self, archive_key: str, file_name: str | None, partner: Partner) -> DocumentSpec | None:
        """The partner's CSV/XML document this file is, or None (X12, or the partner declares none)."""
        specs = [d for d in partner.documents if d.direction == "inbound" and d.format in ("csv", "xml")]
        if not specs:
            return None
        with self.archive.open(archive_key) as fp:
            head = fp.read(SNIFF)
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if text[:3].upper() == b"ISA" or not text:
            return None
        kind = "xml" if text.startswith(b"<") else "csv"
        candidates = [d for d in specs if d.format == kind]
        if kind == "csv" and len(candidates) > 1:
            header = set(_header(head))
            candidates = [d for d in candidates if header <= set(self._columns(d))] or candidates
        if kind == "xml" and len(candidates) > 1:
            root = {"order": b"<orders", "shipment": b"<shipments", "status": b"<statuses"}
            candidates = [d for d in candidates if root[str(d.record)] in head] or candidates
        return candidates[0] if candidates else None

    def _columns(self, spec: DocumentSpec) -> list[str]:
        levels = column_map(str(spec.record))["levels"]
        return [c for level in levels for c in level["columns"]]

    def process(self, msg_id: int, archive_key: str, file_name: str | None, partner: Partner,
                spec: DocumentSpec) -> tuple[MessageStatus, GatewayError | None]:
        """Check and map the file; record its canonical output. Returns the message's final status and error."""
        self.store.update(msg_id, event="document.read", status=MessageStatus.processing, document_format=spec.format,
                          set_ids=spec.format, partner_id=partner.id,
                          detail={"format": spec.format, "record": spec.record, "partner": partner.id})
        try:
            records, errors = self._read(archive_key, file_name, spec)
        except GatewayError as exc:
            errors, records = [exc], []
        if not records and not errors:
            errors = [FileDocumentError("the file holds no record", location=Location(file=file_name, line=1))]
        if errors:
            reasons = [e.describe() for e in errors[:MAX_ERRORS]]
            self.store.add_event(msg_id, "document.invalid", detail={"errors": reasons, "count": len(errors)})
            first = errors[0]
            more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
            return MessageStatus.failed, FileDocumentError(
                first.message + more,
                location=getattr(first, "location", None),
                hint="correct the file and send it again; every error is on the message's timeline",
            )
        blob = self.archive.put_bytes(documents_json(list(records)).encode())
        self.store.record_output(msg_id, kind=OutputKind.canonical, blob=blob, content_type="application/json",
                                 file_name=f"{file_name or msg_id}.canonical.json")
        keys: list[tuple[str, str]] = []
        for r in records:
            keys += [k for k in business_keys(r) if k not in keys]
        if keys:
            self.store.record_business_keys(msg_id, keys)
        self.store.add_event(msg_id, "mapping.done", detail={"records": len(records), "keys": len(keys)})
        return MessageStatus.processed, None

    def _read(self, archive_key: str, file_name: str | None, spec: DocumentSpec) -> tuple[list[Any], list[Any]]:
        if spec.format == "xml":
            from gateway.mapping.xmlio import read_xml  # lxml (about 6 MB) only once an XML file comes in

            with self.archive.open(archive_key) as fp:
                items = read_xml(fp.read(), file=file_name)
            kinds = {getattr(r, "type", None) for r in items if not isinstance(r, MappingError)}
            if kinds - {spec.record}:
                raise FileDocumentError(f"the XML holds {', '.join(sorted(map(str, kinds)))} records, "
                                        f"the partner file declares {spec.record}", location=Location(file=file_name))
            return ([r for r in items if not isinstance(r, MappingError)],
                    [r for r in items if isinstance(r, MappingError)])
        columns = self._columns(spec)
        levels = column_map(str(spec.record))["levels"]
        with self.archive.open(archive_key) as fp:
            header = _header(fp.read(SNIFF))
        errors: list[Any] = []
        unknown = [c for c in header if c not in columns]
        for c in unknown:
            errors.append(FileDocumentError(
                f"row 1, column {c!r}: the {spec.record} column map has no such column "
                f"(known: {', '.join(columns[:12])}{' ...' if len(columns) > 12 else ''})",
                location=Location(file=file_name, line=1, field=c),
            ))
        for c in levels[0].get("key", []):
            if c not in header:
                errors.append(FileDocumentError(
                    f"row 1, column {c!r}: missing; it tells which rows belong to one {spec.record}",
                    location=Location(file=file_name, line=1, field=c),
                ))
        if errors:
            return [], errors
        by_path = _columns_by_path(levels)
        records: list[Any] = []
        with self.archive.open(archive_key) as fp:
            for item in read_csv(fp, str(spec.record), file=file_name):
                if isinstance(item, MappingError):
                    errors.append(_with_column(item, by_path, file_name))
                else:
                    records.append(item)
        return records, errors


def _header(head: bytes) -> list[str]:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = text.splitlines()[0] if text else ""
    return next(csv.reader(io.StringIO(first)), [])


def _columns_by_path(levels: list[dict[str, Any]]) -> dict[tuple[str, ...], str]:
    """Canonical path (list names and field names, indexes dropped) -> CSV column."""
    out: dict[tuple[str, ...], str] = {}
    lists: list[str] = []
    for level in levels:
        if level.get("list"):
            lists = [*lists, level["list"]]
        for column, path in level["columns"].items():
            tokens = tuple(t.split("[")[0] for t in str(path).split("."))
            out[(*lists, *tokens)] = column
    return out


def _with_column(err: MappingError, by_path: dict[tuple[str, ...], str], file_name: str | None) -> FileDocumentError:
    """The CSV reader names the record's first line and the canonical field; say the row and column instead."""
    loc = err.location
    field = (loc.field if loc else None) or ""
    parts = field.split(".") if field else []
    names = tuple(p for p in parts if not p.isdigit())
    row = loc.line if loc and loc.line else None
    indexes = [int(p) for p in parts if p.isdigit()]
    if row is not None and indexes:
        row += indexes[-1]  # one CSV row per line item: the n-th item is n rows below the record's first row
    column = None
    for n in range(len(names), 0, -1):
        column = by_path.get(names[:n]) or next((c for p, c in by_path.items() if p[-n:] == names[-n:]), None)
        if column:
            break
    reason = err.message.split(": ", 2)[-1] if ": " in err.message else err.message
    where = f"row {row}, column {column!r}" if column else f"row {row}, field {field!r}"
    return FileDocumentError(f"{where}: {reason}", location=Location(file=file_name, line=row, field=column or field),
                             hint="correct the value in the CSV and send it again")
