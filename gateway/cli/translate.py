"""``gateway translate FILE --to canonical|x12|csv|xml``: translate a document between X12, canonical JSON, CSV and
XML through the mapping layer.

The input format is detected (X12, canonical JSON, CSV, XML). X12 is read tolerantly: envelope deviations and
validation findings are printed on stderr as warnings and the document still maps. X12 output is validated by the
X12 engine and its findings (e.g. a mandatory element the record left empty) are printed on stderr; invalid
output exits 1. With ``--partner`` the envelope is the one ``gateway send`` writes: our identity (or the ids the
partner file gives us), the partner file's ``envelope:`` and the version of its declared outbound document. A
record read from X12 is written back as the set it came from unless ``--set`` says otherwise.

Exit codes: 0 every document translated, 1 some document could not be mapped (it appears as
``{"error": ...}`` in canonical output and on stderr) or the X12 written is invalid, 2 usage or I/O error.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gateway.errors import GatewayError, MappingError

if TYPE_CHECKING:  # the mapping layer, the store's models and lxml load when a file is translated, not for --help
    from gateway.canonical import Record
    from gateway.mapping.x12 import EnvelopeSettings
    from gateway.partners.schema import Partner
    from gateway.settings import OwnIdentity

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


def _own() -> OwnIdentity:
    """Our identity from the settings (config/gateway.yaml, GATEWAY_*), the defaults when there is none."""
    from gateway.settings import OwnIdentity, load_settings

    try:
        return load_settings().identity
    except GatewayError:
        return OwnIdentity()


def envelope_for(partner: Partner | None, set_id: str | None) -> EnvelopeSettings:
    """Outbound envelope values: the partner file's `envelope:`, identity and declared version for ``set_id``,
    and our identity (the same values ``gateway send`` uses)."""
    from gateway.flows.compose import envelope_for as envelope_settings
    from gateway.mapping.x12 import EnvelopeSettings

    own = _own()
    if partner is None:
        return EnvelopeSettings(sender_qualifier=own.isa_qualifier, sender_id=own.isa_id)
    doc = partner.document(set_id, "outbound") if set_id else None
    doc = doc or next((d for d in partner.documents if d.direction == "outbound" and d.set_id == set_id), None)
    env, _gs_sender, _gs_receiver = envelope_settings(partner, own, doc.version if doc else "004010")
    return env


def _set_for(record: Record, source_set: str | None, partner: Partner | None, asked: str | None) -> str | None:
    """The set to write ``record`` as: --set, else the set it was read from, else the partner's declared one."""
    from gateway.mapping.x12 import RECORD_OF_SET

    if asked:
        return asked
    if source_set and RECORD_OF_SET.get(source_set) == record.type:
        return source_set
    if partner is not None:
        declared = [d.set_id for d in partner.documents
                    if d.direction == "outbound" and d.set_id and RECORD_OF_SET.get(d.set_id) == record.type]
        if len(declared) == 1:
            return declared[0]
    return None


def _read(path: Path, data: bytes, overrides: dict[str, Any], kind: str | None,
          sources: list[str | None] | None = None) -> list[Record | MappingError]:
    from gateway.canonical import parse_record
    from gateway.edi.x12 import analyze
    from gateway.mapping import to_canonical
    from gateway.mapping.csvio import read_csv
    from gateway.mapping.x12 import iter_transactions
    from gateway.mapping.xmlio import read_xml

    fmt = detect_format(data[:4096])
    if fmt == "x12":
        analysis = analyze(data, tolerant=True, file=str(path))
        for issue in analysis.issues:
            typer.echo(issue.describe(), err=True)
        if sources is not None:
            sources.extend(tx.set_id for tx in iter_transactions(data))  # a 945 is written back as a 945
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
    from gateway.canonical.jsonio import documents_json
    from gateway.edi.x12 import analyze
    from gateway.mapping import load_overrides
    from gateway.mapping.csvio import write_csv
    from gateway.mapping.x12 import from_canonical
    from gateway.mapping.xmlio import write_xml
    from gateway.partners.loader import load_partner_file

    if to not in FORMATS:
        raise _fail(f"--to must be one of {', '.join(FORMATS)}, not {to!r}")
    if record_type is not None and record_type not in TYPES:
        raise _fail(f"--type must be one of {', '.join(TYPES)}, not {record_type!r}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror or exc}") from exc
    overrides: dict[str, Any] = {}
    partner_model: Partner | None = None
    if partner:
        try:
            overrides = load_overrides(partners_dir / f"{partner}.mapping.yaml")
        except GatewayError as exc:
            raise _fail(exc.describe()) from exc
        partner_file = partners_dir / f"{partner}.yaml"
        if partner_file.exists():
            try:
                partner_model = load_partner_file(partner_file)
            except GatewayError as exc:
                raise _fail(exc.describe()) from exc
        elif to == "x12":
            raise _fail(f"no partner file {partner_file}")
    sources: list[str | None] = []
    try:
        items = _read(file, data, overrides, record_type, sources)
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
            origin = [sources[i] if i < len(sources) else None for i, it in enumerate(items)
                      if not isinstance(it, MappingError) and (not record_type or it.type == record_type)]
            sets = [_set_for(r, origin[i] if i < len(origin) else None, partner_model, set_id)
                    for i, r in enumerate(records)]
            chosen = next((s for s in sets if s), None)
            envelope = envelope_for(partner_model, chosen)
            written = from_canonical(records, envelope, set_id=sets, overrides=overrides,
                                     date=now.strftime("%Y%m%d"), time=now.strftime("%H%M"))
            output = analyze(written, file="(output)")
            for issue in output.issues:  # e.g. a record without a mandatory value
                typer.echo(f"output: {issue.describe()}", err=True)
            sys.stdout.buffer.write(written)
            if not output.valid:
                typer.echo("error: the X12 written is not valid (see above): a partner would reject it", err=True)
                sys.stdout.flush()
                raise typer.Exit(1)
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
