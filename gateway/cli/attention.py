"""``gateway attention``: the support worklist from the command line (list, resolve)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gateway.cli.store import CONFIG, _actor, _done, _gateway
from gateway.errors import InvalidActionError, NotFoundError

app = typer.Typer(
    help="The support worklist: failed, quarantined, invalid, rejected, overdue, dead, duplicate, unmatched.",
    invoke_without_command=True,
)


@app.callback()
def attention_list(
    ctx: typer.Context,
    kind: str | None = typer.Option(None, "--kind", help="only this kind"),
    partner: str | None = typer.Option(None, "--partner", help="only this partner"),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="the API's JSON answer"),
    config: Path | None = CONFIG,
) -> None:
    """List the open items, oldest first, with counts per partner and kind."""
    if ctx.invoked_subcommand is not None:
        return
    from gateway.flows import attention

    gw = _gateway(config)
    try:
        wl = attention.worklist(gw.store, kind=kind, partner=partner, limit=limit)
    except InvalidActionError as exc:
        raise _done(exc) from exc
    finally:
        gw.engine.dispose()
    if as_json:
        typer.echo(json.dumps(wl.to_dict(), indent=2))
        return
    if not wl.items:
        typer.echo("nothing needs attention")
        return
    typer.echo(f"{wl.total} open: " + ", ".join(f"{k} {n}" for k, n in sorted(wl.by_kind.items())))
    for p, kinds in sorted(wl.by_partner_kind.items()):
        typer.echo(f"  {p}: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    for i in wl.items:
        typer.echo(
            f"{i.created_at:%Y-%m-%d %H:%M} #{i.message_id:<6} {i.kind:<11} {i.partner_id or '-':<16} "
            f"{i.file_name or '-'}: {i.reason or i.status}"
        )


@app.command("resolve", short_help="Resolve a message's open worklist items, noted on its timeline.")
def attention_resolve(
    message_id: int = typer.Argument(..., min=1),
    note: str = typer.Option(..., "--note", "-m", help="what was done (recorded on the timeline)"),
    kind: str | None = typer.Option(None, "--kind", help="only this kind (default: every open item)"),
    config: Path | None = CONFIG,
) -> None:
    """Resolve a message's open worklist items, with a note recorded on its timeline."""
    from gateway.flows import attention

    gw = _gateway(config)
    try:
        kinds = attention.resolve(gw.store, message_id, note=note, actor=_actor(), kind=kind)
    except (NotFoundError, InvalidActionError) as exc:
        raise _done(exc) from exc
    finally:
        gw.engine.dispose()
    typer.echo(f"message {message_id}: resolved {', '.join(kinds)}")
