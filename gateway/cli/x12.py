"""``gateway x12``: validate X12 files, print their acknowledgement, print their segments.

Exit codes (all commands): 0 success (for ``validate``: every transaction set accepted and no envelope error),
1 the input is rejected or is not X12, 2 usage or I/O error. Bad input never produces a traceback.

Validation is tolerant by default (what real partners send is accepted with warnings: unpadded ISA fields, line
breaks inside the ISA or a segment, a missing ISA16, sets without envelope...); ``--strict`` makes those errors.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from gateway.edi.x12 import AckOptions, SequentialControlNumbers, analyze, build_acknowledgement
from gateway.edi.x12.model import Analysis
from gateway.edi.x12.reader import X12Reader
from gateway.errors import GatewayError

app = typer.Typer(
    name="x12",
    help="Validate, acknowledge and inspect X12 interchanges.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"gateway x12: {message}", err=True)
    return typer.Exit(code)


def _analyze(path: Path, strict: bool) -> Analysis:
    try:
        with path.open("rb") as fh:
            return analyze(fh, tolerant=not strict, file=str(path))
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror or exc}") from exc
    except GatewayError as exc:
        raise _fail(exc.describe(), 1) from exc


def _text_report(a: Analysis) -> list[str]:
    n_sets = len(a.transactions)
    rejected = sum(1 for t in a.transactions if not t.valid)
    status = "valid" if a.valid else "INVALID"
    lines = [f"{a.file}: {status} - {len(a.interchanges)} interchange(s), {n_sets} transaction set(s), "
             f"{rejected} rejected, {a.error_count} error(s), {len(a.warnings)} warning(s)"]
    lines.extend("  " + issue.describe() for issue in a.issues)
    if a.suppressed:
        lines.append(f"  ... {a.suppressed} more issue(s) not listed")
    return lines


@app.command(short_help="Validate X12 files: exit 0 accepted, 1 rejected, 2 usage error.")
def validate(
    files: list[Path] = typer.Argument(..., help="X12 files to validate.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    strict: bool = typer.Option(False, "--strict", help="Report tolerated deviations as errors."),
) -> None:
    """Validate X12 files: exit 0 when every transaction set is accepted, 1 when any is rejected or an envelope
    is broken, 2 on usage or I/O errors."""
    results = [_analyze(path, strict) for path in files]
    ok = all(a.valid for a in results)
    if as_json:
        if len(results) == 1:
            doc: dict[str, Any] = results[0].to_dict()
        else:
            doc = {"valid": ok, "warnings": [], "errors": [], "interchanges": [], "files": []}
            for a in results:
                d = a.to_dict()
                for key in ("warnings", "errors"):
                    doc[key].extend({**issue, "file": a.file} for issue in d[key])
                doc["interchanges"].extend({**ic, "file": a.file} for ic in d["interchanges"])
                doc["files"].append({"file": a.file, "valid": a.valid})
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=True))
    else:
        for a in results:
            for line in _text_report(a):
                typer.echo(line)
    raise typer.Exit(0 if ok else 1)


@app.command(short_help="Print the 997/999 (and TA1 when due) for an inbound X12 file.")
def ack(
    file: Path = typer.Argument(..., help="The inbound X12 file.", show_default=False),
    fmt: str = typer.Option("auto", "--format", help="997, 999, or auto (997 for 004xxx, 999 for 005010)."),
    strict: bool = typer.Option(False, "--strict", help="Validate strictly before acknowledging."),
    ta1: str = typer.Option("auto", "--ta1", help="auto (when requested or needed), always or never."),
    interchange_control: int = typer.Option(0, "--last-interchange", help="Last ISA13 used; the ack takes +1."),
    group_control: int = typer.Option(0, "--last-group", help="Last GS06 used; the ack takes +1."),
) -> None:
    """Print the acknowledgement interchange(s) for FILE (997 or 999, and TA1 when due)."""
    if fmt not in ("auto", "997", "999"):
        raise _fail(f"--format must be 997, 999 or auto, not {fmt!r}")
    if ta1 not in ("auto", "always", "never"):
        raise _fail(f"--ta1 must be auto, always or never, not {ta1!r}")
    analysis = _analyze(file, strict)
    if not analysis.interchanges:
        raise _fail(f"{file}: no X12 interchange found", 1)
    counter = SequentialControlNumbers(interchange_control, group_control)
    options = AckOptions(timestamp=datetime.now(), functional_ack=fmt, ta1=ta1)
    produced = 0
    for ic in analysis.interchanges:
        data = build_acknowledgement(ic, control_numbers=counter, options=options)
        if data is not None:
            sys.stdout.buffer.write(data)
            produced += 1
    sys.stdout.buffer.flush()
    if not produced:
        raise _fail(f"{file}: no acknowledgement can be built (data without ISA envelope, or nothing due)", 1)


@app.command(short_help="Print one segment per line, with normalised delimiters.")
def segments(
    file: Path = typer.Argument(..., help="The X12 file.", show_default=False),
) -> None:
    """Print one segment per line, normalised to '*' element, ':' component, '^' repetition and '~' terminator."""
    try:
        with file.open("rb") as fh:
            count = 0
            out = sys.stdout
            for seg in X12Reader(fh):
                d = seg.delimiters
                parts = []
                for value in seg.elements:
                    if d.repetition:
                        value = "^".join(value.split(d.repetition))
                    if d.component and d.component != ":":
                        value = ":".join(value.split(d.component))
                    parts.append(value)
                out.write("*".join(parts) + "~\n")
                count += 1
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`)
        sys.stderr.close()
        raise typer.Exit(0) from None
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror or exc}") from exc
    if count == 0:
        raise _fail(f"{file}: no X12 segments found", 1)
