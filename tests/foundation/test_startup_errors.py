"""Start-up failures read as one or two lines with a distinct exit code, never a traceback (the real entry point).

Each case runs the installed ``gateway`` console script as a user would: a database that cannot be reached or
does not exist (for ``serve`` and every command that opens the store), the API port already in use (and nothing
picked up meanwhile), a settings file that cannot be read, a partners folder that does not exist.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from gateway.cli import failures
from tests.support.gateway_home import drop, make_home
from tests.support.sshd import free_port

GATEWAY = Path(sys.executable).with_name("gateway")
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"

# every command that opens the store (serve too)
STORE_COMMANDS = [
    ["serve"],
    ["apikey", "create", "--name", "me", "--role", "viewer"],
    ["apikey", "list"],
    ["apikey", "revoke", "me"],
    ["messages", "search"],
    ["messages", "show", "1"],
    ["messages", "resend", "1"],
    ["messages", "reprocess", "1"],
    ["db", "upgrade"],
    ["archive", "purge"],
]


def gateway(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    full.update(env or {})
    return subprocess.run([str(GATEWAY), *args], cwd=home, env=full, capture_output=True, text=True,
                          timeout=60, check=False)


def one_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    out = proc.stderr + proc.stdout
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, out
    assert proc.returncode == code, (proc.returncode, out)
    assert lines[0].startswith("error: "), out
    for word in words:
        assert word in out, (word, out)
    return out


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path / "home")


def test_exit_codes_are_distinct() -> None:
    codes = [failures.EXIT_USAGE, failures.EXIT_CONFIG_UNREADABLE, failures.EXIT_PARTNERS_MISSING,
             failures.EXIT_DATABASE_UNREACHABLE, failures.EXIT_DATABASE_MISSING, failures.EXIT_PORT_IN_USE]
    assert len(set(codes)) == len(codes) and 0 not in codes and 1 not in codes


@pytest.mark.parametrize("args", STORE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_unreachable_database(home: Path, args: list[str]) -> None:
    url = f"postgresql://gateway:secret-pw@127.0.0.1:{free_port()}/gateway"  # nothing listens there
    proc = gateway(home, *args, env={"GATEWAY_DATABASE_URL": url, "GATEWAY_API_PORT": str(free_port())})
    out = one_error(proc, failures.EXIT_DATABASE_UNREACHABLE, "cannot reach the database", "GATEWAY_DATABASE_URL")
    assert "secret-pw" not in out  # the password never reaches the terminal


@pytest.mark.postgres
@pytest.mark.parametrize("args", [STORE_COMMANDS[i] for i in (0, 2, 4, 5, 8, 9)], ids=lambda a: " ".join(a[:2]))
def test_database_that_does_not_exist(home: Path, postgres_url: str, args: list[str]) -> None:
    url = make_url(postgres_url).set(database="gateway_no_such_database").render_as_string(hide_password=False)
    proc = gateway(home, *args, env={"GATEWAY_DATABASE_URL": url, "GATEWAY_API_PORT": str(free_port())})
    one_error(proc, failures.EXIT_DATABASE_MISSING, "gateway_no_such_database", "does not exist", "createdb")


def test_port_in_use_fails_before_anything_is_picked_up(home: Path) -> None:
    inbox = home / "var" / "channels" / "harbor-3pl" / "inbound"
    dropped = drop(SAMPLE, inbox)
    os.utime(dropped, (time.time() - 60, time.time() - 60))  # old enough to be picked up at once
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = gateway(home, "serve", "--port", str(port))
    out = one_error(proc, failures.EXIT_PORT_IN_USE, f"port {port}", "already in use", "--port")
    assert "gateway.started" not in out
    assert dropped.exists() and not (inbox / "processed").exists()  # nothing was picked up
    assert not (home / "var" / "gateway.db").exists()  # nor was the store opened


@pytest.mark.parametrize(("kind", "args"), [("missing", ["serve"]), ("folder", ["serve"]), ("not-utf8", ["serve"]),
                                           ("missing", ["apikey", "list"]), ("not-utf8", ["messages", "search"])])
def test_unreadable_settings_file(home: Path, kind: str, args: list[str]) -> None:
    config = home / "config" / "broken.yaml"
    if kind == "folder":
        config.mkdir()
    elif kind == "not-utf8":
        config.write_bytes(b"api_port: 8080\nidentity:\n  name: \xff\xfe caf\xe9\n")
    proc = gateway(home, *args, "--config", str(config))
    one_error(proc, failures.EXIT_CONFIG_UNREADABLE, str(config), "--config")


def test_partners_folder_that_does_not_exist(home: Path) -> None:
    env = {"GATEWAY_PARTNERS_DIR": "no-such-partners", "GATEWAY_API_PORT": str(free_port())}
    proc = gateway(home, "serve", env=env)
    one_error(proc, failures.EXIT_PARTNERS_MISSING, "no-such-partners", "does not exist", "GATEWAY_PARTNERS_DIR")
    assert not (home / "var" / "gateway.db").exists()


def test_invalid_settings_keep_the_usage_code(home: Path) -> None:
    proc = gateway(home, "apikey", "list", env={"GATEWAY_API_PORT": "not-a-port"})
    one_error(proc, failures.EXIT_USAGE, "api_port")
