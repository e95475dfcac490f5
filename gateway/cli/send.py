"""``gateway send FILE --partner ID [--set 945]``: send records (canonical JSON, CSV or XML) to a partner through
the gateway: control numbers, validation, archive, audit store and delivery on the partner's outbound channels,
exactly as ``POST /api/documents`` does. Exit codes: 0 built and handed to delivery, 1 the document is invalid
(every problem on stderr), 2 usage, unknown partner or I/O error.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gateway.cli.common import fail, settings_from
from gateway.errors import GatewayError, NotFoundError

CONTENT_TYPES = {".json": "application/json", ".csv": "text/csv", ".xml": "application/xml"}


def send(
    file: Path = typer.Argument(..., help="Records to send: canonical JSON, CSV or XML.", show_default=False),
    partner: str = typer.Option(..., "--partner", help="Partner id (its partner file decides set and version)."),
    set_id: str | None = typer.Option(None, "--set", help="Transaction set, e.g. 945, when the partner takes several."),
    version: str | None = typer.Option(None, "--version", help="Version, e.g. 004010UCS, to pick among several."),
    key: str | None = typer.Option(None, "--idempotency-key", help="Send this submission at most once."),
    config: Path | None = typer.Option(None, "--config", help="Settings file (default: config/gateway.yaml)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Send FILE's records to PARTNER as the partner's X12 (or CSV), through the gateway."""
    from gateway.runtime import Gateway

    gw = Gateway(settings_from(config))
    try:
        with open(file, "rb") as fp:
            result = gw.documents.submit(
                fp,
                partner_id=partner,
                content_type=CONTENT_TYPES.get(file.suffix.lower()),
                set_id=set_id,
                version=version,
                idempotency_key=key,
                actor="cli",
                source="cli",
                file_name=file.name,
            )
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from exc
    except NotFoundError as exc:
        fail(exc, 2)
    except GatewayError as exc:
        fail(exc, 2)
    finally:
        gw.stop()
    m = result.message
    if as_json:
        typer.echo(json.dumps({"message_id": m.id, "status": m.status, "validation_status": m.validation_status,
                               "delivery_status": m.delivery_status, "ack_status": m.ack_status,
                               "file_name": m.file_name, "reason": m.reason, "problems": result.problems}))
    else:
        typer.echo(f"message {m.id}: {m.status} (validation {m.validation_status}, delivery {m.delivery_status}, "
                   f"acknowledgement {m.ack_status}) {m.file_name or ''}")
        for p in result.problems:
            x12 = f" ({p['x12']})" if p.get("x12") else ""
            typer.echo(f"  {p['path']}{x12}: {p['message']}", err=True)
        if m.reason and not result.valid:
            typer.echo(f"not sent: {m.reason}", err=True)
    raise typer.Exit(0 if result.valid else 1)
