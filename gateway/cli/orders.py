"""``gateway orders``: business timelines of orders and shipments from the command line (show, list, check)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from gateway.cli.store import CONFIG, _done, _gateway
from gateway.errors import InvalidActionError, NotFoundError

app = typer.Typer(help="Orders and shipments: one timeline per PO / order / shipment, stages, service levels.")


def _print(t: dict[str, Any]) -> None:
    obj = t.get("object") or {}
    typer.echo(f"{t['kind']} {t['key']}  stage: {t['stage']}" + (f" ({t['exception']})" if t["exception"] else "")
               + (f"  breaches: {obj.get('breaches')}" if obj.get("breaches") else ""))
    for name, at in t["milestones"].items():
        typer.echo(f"  {name:<17} {at[:19]}")
    typer.echo("documents:")
    for d in t["documents"]:
        sets = ",".join(d["sets"]) or "-"
        statuses = " ".join(f"{k}={d[k]}" for k in ("validation_status", "delivery_status", "acknowledgement_status",
                                                      "handoff_status") if d.get(k))
        typer.echo(f"  {d['at'][:19]} #{d['message_id']:<6} {d['direction']:<8} {sets:<5} {d['partner_id'] or '-':<16}"
                   f" {d['status']:<10} {statuses}")
        for a in d["acknowledgements"]:
            typer.echo(f"      {a['kind']} {a['result'] or '-'} (#{a['ack_message_id']}, {a['at'][:19]})")
        for h in d["handoffs"]:
            typer.echo(f"      hand-off {h['event_type']} -> {h['destination']}: {h['status']}")
    q = t["quantities"]
    typer.echo(f"quantities: {q['summary']}")
    for line in q["lines"]:
        product = next(iter(line["product"].values()), "-") if line["product"] else "-"
        typer.echo(f"  line {line['line']:<4} {product:<16} ordered {line['ordered'] or '-':>8}  "
                   f"shipped {line['shipped'] or '-':>8}  {line['state']}")
    if t["parties"]:
        typer.echo("parties: " + "; ".join(f"{p['role']}: {p['name'] or p['id']}" for p in t["parties"]))
    for b in t["breaches"]:
        typer.echo(f"BREACH {b['service_level']} ({b['partner']}): {b['reason']}")


def _show(kind: str, key: str, as_json: bool, config: Path | None) -> None:
    gw = _gateway(config)
    try:
        t = gw.timelines.timeline(kind, key)
    except (NotFoundError, InvalidActionError) as exc:
        raise _done(exc) from exc
    finally:
        gw.engine.dispose()
    if as_json:
        typer.echo(json.dumps(t, indent=2))
    else:
        _print(t)


@app.command("show", short_help="An order's timeline: documents, acks, stage, quantities, breaches.")
def orders_show(
    key: str = typer.Argument(..., help="PO or order number (leading zeros, case and punctuation do not matter)"),
    as_json: bool = typer.Option(False, "--json", help="the API's JSON answer"),
    config: Path | None = CONFIG,
) -> None:
    """One order's timeline: documents, acknowledgements, hand-offs, stage, quantities, parties, breaches."""
    _show("order", key, as_json, config)


@app.command("shipment")
def orders_shipment(
    key: str = typer.Argument(..., help="shipment id, BOL, PRO, tracking number or SSCC"),
    as_json: bool = typer.Option(False, "--json", help="the API's JSON answer"),
    config: Path | None = CONFIG,
) -> None:
    """One shipment's timeline."""
    _show("shipment", key, as_json, config)


@app.command("list")
def orders_list(
    shipments: bool = typer.Option(False, "--shipments", help="list shipments instead of orders"),
    partner: str | None = typer.Option(None, "--partner"),
    stage: str | None = typer.Option(None, "--stage", help="ordered, shipped, in_transit, delivered, exception"),
    since: datetime | None = typer.Option(None, "--since", help="active at or after (ISO 8601)"),
    until: datetime | None = typer.Option(None, "--until", help="started before (ISO 8601)"),
    breached: bool = typer.Option(False, "--breached", help="only those that missed a service level"),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = typer.Option(False, "--json"),
    config: Path | None = CONFIG,
) -> None:
    """Orders (or shipments), most recently active first."""
    gw = _gateway(config)
    try:
        found = gw.timelines.listing("shipment" if shipments else "order", partner=partner, stage=stage,
                                     since=since, until=until, breached=True if breached else None, limit=limit)
    except InvalidActionError as exc:
        raise _done(exc) from exc
    finally:
        gw.engine.dispose()
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    typer.echo(f"{found['total']} found")
    for o in found["items"]:
        typer.echo(f"{o['last_at'][:16]} {o['key']:<20} {o['stage']:<11} {o['partner_id'] or '-':<16}"
                   + (f" breaches {o['breaches']}" if o["breaches"] else ""))


@app.command("check", short_help="Run the service-level job once: index, evaluate, announce.")
def orders_check(config: Path | None = CONFIG) -> None:
    """Run the service-level job once (index new documents, evaluate what is due, announce breaches)."""
    gw = _gateway(config)
    try:
        out = gw.service_levels.run()
    finally:
        gw.engine.dispose()
    typer.echo(", ".join(f"{k} {v}" for k, v in out.items()))
