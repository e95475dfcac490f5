"""Start-up failures as one or two lines and a distinct exit code, never a traceback.

Every ``gateway`` command runs through :func:`run`: an exception that reaches it is classified here, printed as
``error: <what> (<what to do>)`` and turned into its exit code. Exceptions nobody expected keep their traceback
(they are bugs, and the traceback is what a bug report needs).

Exit codes (also in docs/operations.md):

====  =========================================================================================================
0     success
1     the command ran and its answer is "no" (message not found, file invalid, ...)
2     usage error or invalid settings
10    the settings file cannot be read (missing, no permission, a folder)
11    the partners folder does not exist
12    the database cannot be reached (refused, no such host, wrong credentials, file cannot be opened)
13    the database server answers but the database does not exist
14    the API port is already in use (nothing was started)
15    the archive lacks payloads the store knows, or cannot be written (several nodes: the shared archive is not
      mounted at archive_dir on this node)
====  =========================================================================================================
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

from gateway.errors import ConfigError, GatewayError

EXIT_USAGE = 2
EXIT_CONFIG_UNREADABLE = 10
EXIT_PARTNERS_MISSING = 11
EXIT_DATABASE_UNREACHABLE = 12
EXIT_DATABASE_MISSING = 13
EXIT_PORT_IN_USE = 14
EXIT_ARCHIVE_MISSING = 15


# what a driver says when it cannot open the database (psycopg 3, SQLite)
CONNECTING = ("connection failed", "could not connect", "connection refused", "connection to server",
              "does not exist", "authentication failed", "unable to open database file", "timeout expired",
              "could not translate host name", "name or service not known")


class StartupError(GatewayError):
    """A problem found before the gateway starts; carries its exit code."""

    def __init__(self, message: str, *, code: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        orig = getattr(cur, "orig", None)  # SQLAlchemy keeps the driver's exception here
        if isinstance(orig, BaseException):
            yield orig
        cur = cur.__cause__ or cur.__context__


def _database_error(exc: BaseException, url: str | None) -> StartupError | None:
    from sqlalchemy.exc import OperationalError

    from gateway.store.db import redact_url

    for item in _chain(exc):
        if not isinstance(item, OperationalError):
            continue
        detail = str(getattr(item, "orig", None) or item).strip().splitlines()
        first = detail[0] if detail else type(item).__name__
        if not any(sign in first.lower() for sign in CONNECTING):
            continue  # an operational error of a working connection (a lock, a missing table): not a start-up one
        where = f" at {redact_url(url)}" if url else ""
        if "does not exist" in first and "database" in first:
            return StartupError(
                f"the database{where} does not exist: {first}",
                code=EXIT_DATABASE_MISSING,
                hint="create it (createdb NAME) or fix database_url / GATEWAY_DATABASE_URL",
            )
        return StartupError(
            f"cannot reach the database{where}: {first}",
            code=EXIT_DATABASE_UNREACHABLE,
            hint="start the database server or fix database_url / GATEWAY_DATABASE_URL",
        )
    return None


_database_url: list[str] = []  # the URL the command opened (set by note_database), for the message


def note_database(url: str) -> None:
    _database_url[:] = [url]


def classify(exc: BaseException) -> StartupError | None:
    """The start-up failure ``exc`` stands for, or None when it is not one (a bug: keep the traceback)."""
    if isinstance(exc, StartupError):
        return exc
    db = _database_error(exc, _database_url[0] if _database_url else None)
    if db is not None:
        return db
    if isinstance(exc, ConfigError) and exc.message.startswith(("cannot read the settings file", "settings file")):
        where = exc.location.describe() if exc.location else ""
        return StartupError(f"{where}: {exc.message}" if where else exc.message, code=EXIT_CONFIG_UNREADABLE,
                            hint="check the path given with --config or GATEWAY_CONFIG and its permissions")
    return None


def run(main: Callable[[], object]) -> None:
    """Run the CLI; a start-up failure becomes one line on stderr and its exit code."""
    try:
        main()
    except (SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:
        failure = classify(exc)
        if failure is None:
            raise
        die(failure)


def die(failure: StartupError) -> NoReturn:
    print(f"error: {failure.describe()}", file=sys.stderr)
    raise SystemExit(failure.code)


def check_partners_folder(path: Path) -> None:
    if not path.is_dir():
        raise StartupError(
            f"the partners folder {path} does not exist",
            code=EXIT_PARTNERS_MISSING,
            hint="create it (mkdir) or set partners_dir / GATEWAY_PARTNERS_DIR to the folder holding partner files",
        )


def bind(host: str, port: int) -> socket.socket:
    """Bind the API's listening socket now, before anything starts picking up files.

    The protocol is named (``IPPROTO_TCP``, not 0) and ``TCP_NODELAY`` set: asyncio turns Nagle's algorithm off only
    on connections of a socket that says it is TCP. With it on, an answer written as two sends (headers, then body)
    waits for the client's delayed ACK: ~40 ms on every request of a keep-alive connection.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use (another gateway or program listens there)",
                code=EXIT_PORT_IN_USE,
                hint="stop it, or choose another port: gateway serve --port N, or GATEWAY_API_PORT=N",
            ) from exc
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}", code=EXIT_PORT_IN_USE,
                           hint="check api_host / GATEWAY_API_HOST") from exc
    sock.set_inheritable(True)
    return sock


def archive_missing(reason: str) -> StartupError:
    return StartupError(
        reason,
        code=EXIT_ARCHIVE_MISSING,
        hint="mount the shared archive on this node at archive_dir, the folder every node uses, or fix archive_dir /"
        " GATEWAY_ARCHIVE_DIR",
    )


__all__ = ["EXIT_ARCHIVE_MISSING", "EXIT_USAGE", "StartupError", "archive_missing", "bind", "check_partners_folder",
           "classify", "die", "run"]
