"""Helpers shared by CLI commands: settings loading and error reporting without tracebacks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from gateway.errors import GatewayError

if TYPE_CHECKING:  # settings load pydantic-settings and YAML: only when a command runs, not for its --help
    from gateway.settings import Settings


def fail(exc: GatewayError, code: int = 2) -> NoReturn:
    from gateway.cli.failures import classify

    startup = classify(exc)  # a start-up failure (settings file, database, port) has its own exit code
    if startup is not None:
        exc, code = startup, startup.code
    typer.echo(f"error: {exc.describe()}", err=True)
    raise typer.Exit(code)


def settings_from(config: Path | None, **overrides: Any) -> Settings:
    from gateway.cli.failures import note_database
    from gateway.settings import load_settings

    try:
        settings = load_settings(config, **overrides)
    except GatewayError as exc:
        fail(exc)
    note_database(settings.database)
    return settings
