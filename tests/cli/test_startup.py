"""The CLI starts fast because command groups load lazily: `gateway --version` and `--help` import none of the
heavy stacks (bench/cli_startup.py measures the time); the fast root help is the same text click prints."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from gateway import __version__
from tests.support.serve import GATEWAY

HEAVY = ("pandas", "sqlalchemy", "sqlmodel", "pyas2lib", "fastapi", "uvicorn", "typer", "lxml", "paramiko",
         "cryptography", "yaml", "gateway.settings", "gateway.mapping")


def loaded_after(*argv: str) -> list[str]:
    code = (
        "import sys, json, io, contextlib\n"
        f"sys.argv = ['gateway', *{list(argv)!r}]\n"
        "from gateway.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_version_and_help_import_nothing_heavy():
    assert loaded_after("--version") == []
    assert loaded_after("--help") == []
    assert loaded_after() == []
    # a command's own help loads that command (and typer), still not the store or pandas
    assert "pandas" not in loaded_after("x12", "--help")


def test_every_command_help_loads_only_the_cli():
    """`gateway COMMAND --help` imports typer and the command's module, not the store, pandas, the mapping layer,
    the AS2 stack, uvicorn or the settings (they load when the command runs)."""
    from gateway.cli.main import COMMANDS

    heavy = {name: [m for m in loaded_after(name, "--help") if m != "typer"] for name in COMMANDS}
    assert heavy == {name: [] for name in COMMANDS}


def test_short_help_lines_fit_80_columns():
    """The root's command list and each group's (at 80 columns): one line per command, none wrapped."""
    from gateway.cli.main import COMMANDS, _load, app, root_help

    assert max(len(line) for line in root_help().splitlines()) <= 80
    runner = CliRunner()
    for name in COMMANDS:
        subcommands = getattr(_load(name), "commands", None)
        if not subcommands:
            continue
        out = runner.invoke(app, [name, "--help"], terminal_width=80).output
        assert max(len(line) for line in out.splitlines()) <= 80, out
        listing = out.split("Commands ─", 1)[1].split("╰", 1)[0].splitlines()[1:]
        rows = [line for line in listing if line.strip("│ ")]
        assert len(rows) == len(subcommands), f"gateway {name} --help wraps a command's short help:\n{out}"


def test_version_and_help_from_the_console_script():
    v = subprocess.run([str(GATEWAY), "--version"], capture_output=True, text=True, timeout=60)
    assert v.returncode == 0 and v.stdout == f"gateway {__version__}\n"
    h = subprocess.run([str(GATEWAY), "--help"], capture_output=True, text=True, timeout=60)
    assert h.returncode == 0 and "Commands:" in h.stdout and "serve" in h.stdout and "messages" in h.stdout


def test_fast_root_help_is_what_click_prints():
    from gateway.cli.main import app, root_help

    r = CliRunner().invoke(app, ["--help"], terminal_width=80)
    assert r.exit_code == 0
    assert r.output == root_help()
    r = CliRunner().invoke(app, ["--version"])
    assert r.output == f"gateway {__version__}\n"


def test_boolean_options_read_as_flags():
    from gateway.cli.main import COMMANDS, app

    runner = CliRunner()
    for name in COMMANDS:
        out = runner.invoke(app, [name, "--help"], terminal_width=200).output
        assert "--no-" not in out, f"gateway {name} shows a --flag/--no-flag pair"
