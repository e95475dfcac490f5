"""``gateway handoff check|schema|replay``: the hand-off file (config/handoff.yaml) and replays."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Hand-off to internal systems: destinations and routes (docs/handoff.md).", no_args_is_help=True)


@app.command("check", short_help="Validate the hand-off file: each problem as file:line: field.")
def check_cmd(
    file: Path | None = typer.Argument(None, help="the hand-off file (default: handoff_file from the settings)"),
) -> None:
    """Validate the hand-off file: every problem as file:line: field: what is wrong. Exit 1 when any."""
    from gateway.handoff.config import check_source, load_handoff
    from gateway.settings import load_settings

    path = file or load_settings().handoff_path
    if not path.is_file():
        typer.echo(f"{path}: no hand-off file; every record waits as unrouted until one exists")
        raise typer.Exit(0)
    problems = check_source(path)
    for line in problems:
        typer.echo(line, err=True)
    if problems:
        raise typer.Exit(1)
    cfg = load_handoff(path)
    typer.echo(f"{path}: {len(cfg.destinations)} destinations, {len(cfg.routes)} routes, {len(cfg.intake)} intakes: ok")


@app.command("schema")
def schema_cmd(
    output: Path | None = typer.Option(None, "--output", "-o", help="write to this file instead of printing"),
) -> None:
    """The hand-off file's JSON Schema (editors validate as you type)."""
    from gateway.handoff.config import handoff_schema_text

    text = handoff_schema_text()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
