"""Helpers shared by CLI commands: settings loading and error reporting without tracebacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer

from gateway.errors import GatewayError
from gateway.settings import Settings, load_settings


def fail(exc: GatewayError, code: int = 2) -> NoReturn:
    typer.echo(f"error: {exc.describe()}", err=True)
    raise typer.Exit(code)


def settings_from(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, **overrides)
    except GatewayError as exc:
        fail(exc)
