"""The ``gateway`` command. Command groups load lazily: ``gateway --version`` and ``gateway --help`` import
neither pandas, SQLAlchemy nor the AS2 stack (median well under 0.3 s; see tests/cli/test_startup.py).

A command group is one module with a ``typer.Typer`` (or one function for a single command), listed in
:data:`COMMANDS` with the one-line help ``gateway --help`` shows; the module is imported only when its command
runs (or its own ``--help`` is asked for).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from gateway import __version__

# name -> (module, attribute, short help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("gateway.cli.serve", "serve", "Run the gateway: API, support page, channels, scheduled jobs."),
    "messages": ("gateway.cli.store", "messages_app", "Search and inspect messages; resend or reprocess them."),
    "partners": ("gateway.cli.partners", "app", "Check, list, create and try partner files."),
    "x12": ("gateway.cli.x12", "app", "Validate X12, build its 997/999, show its segments."),
    "translate": ("gateway.cli.translate", "translate", "Translate between X12, canonical JSON, CSV and XML."),
    "apikey": ("gateway.cli.store", "apikey_app", "Create, list and revoke API keys."),
    "db": ("gateway.cli.store", "db_app", "The audit store's schema."),
    "archive": ("gateway.cli.store", "archive_app", "The payload archive."),
    "as2": ("gateway.cli.as2", "app", "Our AS2 key pair and certificate."),
    "send": ("gateway.cli.send", "send", "Send records (canonical JSON, CSV or XML) to a partner as X12."),
    "attention": ("gateway.cli.attention", "app", "The support worklist: what needs a person; resolve items."),
    "handoff": ("gateway.cli.handoff", "app", "Hand-off to internal systems: check destinations and routes."),
    "orders": ("gateway.cli.orders", "app", "Orders and shipments: timelines, stages, service levels."),
}
HELP = "B2B partner gateway for X12 EDI and file exchange (SFTP, AS2, webhooks, folders)."
ROOT_TAIL = (
    "Run 'gateway COMMAND --help' for a command's options. Settings: config/gateway.yaml and GATEWAY_* variables."
)


def _version_only(argv: list[str]) -> bool:
    return argv in (["--version"], ["-V"])


def root_help() -> str:
    """The root's help, as click prints it for the app below (a test keeps the two equal), without importing
    typer or click: ``gateway --help`` is the first thing a new user runs."""
    width = max(len(n) for n in COMMANDS)
    lines = [
        "Usage: gateway [OPTIONS] COMMAND [ARGS]...",
        "",
        *_wrap(HELP, 78, "  "),
        "",
        *_wrap(ROOT_TAIL, 78, "  "),
        "",
        "Options:",
        "  -V, --version  Print the version and exit.",
        "  --help         Show this message and exit.",
        "",
        "Commands:",
        *(f"  {n.ljust(width)}  {short}" for n, (_m, _a, short) in COMMANDS.items()),
    ]
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int, indent: str) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent)


def _load(name: str) -> Any:
    import typer

    module, attr, _short = COMMANDS[name]
    obj = getattr(importlib.import_module(module), attr)
    if isinstance(obj, typer.Typer):
        return typer.main.get_group(obj)
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command(name)(obj)
    return typer.main.get_command(single)


def _build() -> Any:
    import typer
    from typer import _click as click  # typer 0.29 vendors click: its group and commands are these classes
    from typer.core import TyperCommand, TyperGroup

    class LazyGroup(TyperGroup):
        """Lists every command from COMMANDS; imports a command's module only to run it or show its help."""

        listing = False

        def list_commands(self, ctx: click.Context) -> list[str]:
            return list(COMMANDS)

        def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
            if cmd_name not in COMMANDS:
                return super().get_command(ctx, cmd_name)
            if self.listing:  # the root's --help: a stand-in with the short help, nothing imported
                return TyperCommand(cmd_name, help=COMMANDS[cmd_name][2], short_help=COMMANDS[cmd_name][2])
            if cmd_name not in self.commands:
                self.add_command(_load(cmd_name), cmd_name)
            return self.commands[cmd_name]

        def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
            self.listing = True
            try:
                super().format_help(ctx, formatter)
            finally:
                self.listing = False

    app = typer.Typer(
        name="gateway",
        cls=LazyGroup,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain help for the root: rich loads only for a command's own help
    )

    def _version(value: bool) -> None:
        if value:
            typer.echo(f"gateway {__version__}")
            raise typer.Exit()

    @app.callback(help=f"{HELP}\n\n{ROOT_TAIL}")
    def _root(
        version: bool = typer.Option(
            False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ) -> None:
        del version  # handled by its eager callback

    return app


def __getattr__(name: str) -> Any:
    """``gateway.cli.main.app`` (the Typer app, for CliRunner in tests) is built on first use."""
    if name == "app":
        value = _build()
        globals()["app"] = value
        return value
    raise AttributeError(name)


def main() -> None:
    argv = sys.argv[1:]
    if _version_only(argv):
        sys.stdout.write(f"gateway {__version__}\n")
        return
    if argv in ([], ["--help"], ["-h"]):
        sys.stdout.write(root_help())
        return
    from gateway.cli.failures import run

    run(__getattr__("app"))  # start-up failures (database, settings file, port) as one line and an exit code


if __name__ == "__main__":
    main()
