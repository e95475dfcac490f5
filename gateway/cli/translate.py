"""``gateway translate FILE --to canonical|x12|csv|xml``: translate a document between X12, canonical JSON, CSV and
XML through the mapping layer.

The input format is detected (X12, canonical JSON, CSV, XML). X12 is read tolerantly: envelope deviations and
validation findings are printed on stderr as warnings and the document still maps. X12 output is validated by the
X12 engine and its findings (e.g. a mandatory element the record left empty) are printed on stderr.

Exit codes: 0 every document translated, 1 some document could not be mapped (it appears as ``{"error": ...}``
in canonical output and on stderr), 2 usage or I/O error.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
import yaml

from gateway.canonical import Record, parse_record
from gateway.canonical.jsonio import documents_json
from gateway.edi.x12 import analyze
from gateway.errors import GatewayError, MappingError
from gateway.mapping import load_overrides, to_canonical
from gateway.mapping.csvio import read_csv, write_csv
from gateway.mapping.x12 import EnvelopeSettings, from_canonical
from gateway.mapping.xmlio import read_xml, write_xml

FORMATS = ("canonical", "x12", "csv", "xml")
TYPES = ("order", "shipment", "status")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"gateway translate: {message}", err=True)
    return typer.Exit(code)


def detect_format(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:3] in (b"ISA", b"GS*", b"ST*") or (text[:2] in (b"GS", b"ST") and text[2:3] and
                                                 not text[2:3].isalnum()):
        return "x12"
    if text[:1] in (b"{", b"["):
        return "canonical"
    if text[:1] == b"<":
        return "xml"
    return "csv"


def _csv_type(head: bytes) -> str | None:
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
    columns = {c.strip().strip('"') for c in first.split(",")}
    if "status_code" in columns:
        return "status"
    if "shipment_id" in columns:
        return "shipment"
    if "order_number" in columns:
        return "order"
    return None


def envelope_for(partner_file: Path) -> EnvelopeSettings:
    """Outbound envelope values from a partner file: its first interchange id is the receiver, our first id the
    sender (read directly from the YAML so this command does not depend on the partner registry)."""
    try:
        data = yaml.safe_load(partner_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(f"cannot read the partner file {partner_file}: {exc}") from exc
    env = EnvelopeSettings()
    theirs = ((data.get("identity") or {}).get("interchange_ids") or [{}])[0]
    ours = (data.get("our_ids") or [{}])[0]
    env.receiver_qualifier = str(theirs.get("qualifier", env.receiver_qualifier))
    env.receiver_id = str(theirs.get("id", env.receiver_id))
    env.sender_qualifier = str(ours.get("qualifier", env.sender_qualifier))
    env.sender_id = str(ours.get("id", env.sender_id))
    for key, value in (data.get("x12") or {}).items() if isinstance(data.get("x12"), dict) else []:
        if hasattr(env, key):
            setattr(env, key, value)
    return env


def _read(path: Path, data: bytes, overrides: dict[str, Any], kind: str | None) -> list[Record | MappingError]:
    fmt = detect_format(data[:4096])
    if fmt == "x12":
        analysis = analyze(data, tolerant=True, file=str(path))
        for issue in analysis.issues:
            typer.echo(issue.describe(), err=True)
        return to_canonical(data, overrides, file=path.name)
    if fmt == "canonical":
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise _fail(f"{path}: not valid JSON: {exc}", 1) from exc
        items = doc.get("documents", [doc]) if isinstance(doc, dict) else doc
        out: list[Record | MappingError] = []
        for item in items:
            if isinstance(item, dict) and "error" in item:
                continue
            try:
                out.append(parse_record(item))
            except (GatewayError, ValueError) as exc:
                out.append(MappingError(f"{path.name}: {exc}"))
        return out
    if fmt == "xml":
        return read_xml(data, file=path.name)
    csv_kind = kind or _csv_type(data[:4096])
    if csv_kind is None:
        raise _fail(f"{path}: cannot tell the record type of this CSV: give --type order|shipment|status")
    return list(read_csv(io.BytesIO(data), csv_kind, file=path.name))


def translate(
    file: Path = typer.Argument(..., help="Input: X12, canonical JSON, CSV or XML.", show_default=False),
    to: str = typer.Option(..., "--to", help="Output format: canonical, x12, csv or xml."),
    partner: str | None = typer.Option(None, "--partner", help="Partner id: its mapping overrides and envelope."),
    record_type: str | None = typer.Option(None, "--type", help="Record type for CSV/XML: order, shipment, status."),
    set_id: str | None = typer.Option(None, "--set", help="X12 output set for shipments: 856 (default) or 945."),
    partners_dir: Path = typer.Option(Path("partners"), "--partners-dir", help="Folder of partner files."),
) -> None:
    """Translate FILE between X12, canonical JSON, CSV and XML; output on stdout."""
    if to not in FORMATS:
        raise _fail(f"--to must be one of {', '.join(FORMATS)}, not {to!r}")
    if record_type is not None and record_type not in TYPES:
        raise _fail(f"--type must be one of {', '.join(TYPES)}, not {record_type!r}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror or exc}") from exc
    overrides: dict[str, Any] = {}
    envelope = EnvelopeSettings()
    if partner:
        try:
            overrides = load_overrides(partners_dir / f"{partner}.mapping.yaml")
        except GatewayError as exc:
            raise _fail(exc.describe()) from exc
        partner_file = partners_dir / f"{partner}.yaml"
        if partner_file.exists():
            envelope = envelope_for(partner_file)
        elif to == "x12":
            raise _fail(f"no partner file {partner_file}")
    try:
        items = _read(file, data, overrides, record_type)
    except GatewayError as exc:
        raise _fail(exc.describe(), 1) from exc
    errors = [i for i in items if isinstance(i, MappingError)]
    records = [i for i in items if not isinstance(i, MappingError)]
    for err in errors:
        typer.echo(f"error: {err.describe()}", err=True)
    if record_type:
        records = [r for r in records if r.type == record_type]
    try:
        if to == "canonical":
            sys.stdout.write(documents_json(items if not record_type else [*records, *errors]))
        elif to == "x12":
            now = datetime.now()
            written = from_canonical(records, envelope, set_id=set_id, overrides=overrides,
                                     date=now.strftime("%Y%m%d"), time=now.strftime("%H%M"))
            for issue in analyze(written, file="(output)").issues:  # e.g. a record without a mandatory value
                typer.echo(f"output: {issue.describe()}", err=True)
            sys.stdout.buffer.write(written)
        else:
            kinds = {r.type for r in records}
            kind = record_type or (kinds.pop() if len(kinds) == 1 else None)
            if kind is None:
                raise _fail("the records are of several types (or none): give --type order|shipment|status")
            if to == "csv":
                write_csv(records, sys.stdout, kind)
            else:
                sys.stdout.buffer.write(write_xml(records, kind))
    except GatewayError as exc:
        raise _fail(exc.describe(), 1) from exc
    sys.stdout.flush()
    raise typer.Exit(1 if errors else 0)
