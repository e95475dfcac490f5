"""The ``gateway`` command. Each command group lives in its own module and is registered here."""

from __future__ import annotations

import typer

from gateway import __version__
from gateway.cli import as2, attention, handoff, partners, store, x12

app = typer.Typer(
    name="gateway",
    help="B2B partner gateway for X12 EDI and file exchange (SFTP, AS2, webhooks, folders).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


app.add_typer(x12.app, name="x12")
app.add_typer(partners.app, name="partners")
app.add_typer(store.apikey_app, name="apikey")
app.add_typer(store.messages_app, name="messages")
app.add_typer(store.db_app, name="db")
app.add_typer(store.archive_app, name="archive")
app.add_typer(as2.app, name="as2")
app.add_typer(attention.app, name="attention")
app.add_typer(handoff.app, name="handoff")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gateway {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """B2B partner gateway for X12 EDI and file exchange."""


from gateway.cli import serve as _serve  # noqa: E402

app.command("serve")(_serve.serve)
from gateway.cli import translate as _translate  # noqa: E402

app.command("translate")(_translate.translate)


def main() -> None:
    from gateway.cli.failures import run

    run(app)  # start-up failures (database, settings file, port) as one line and an exit code


if __name__ == "__main__":
    main()
from gateway.cli import send as _send  # noqa: E402

app.command("send")(_send.send)
