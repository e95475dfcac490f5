"""Database engine for the audit store: SQLite (WAL) embedded, PostgreSQL (psycopg 3) for several nodes.

One code path for both: dialect differences stay inside this module and the migrations.
"""

from __future__ import annotations

import json.encoder
import select
import time
from json.encoder import JSONEncoder, encode_basestring_ascii
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError, SQLAlchemyError

from gateway.errors import StoreError


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


# SQLite's own memory (page caches of the pooled connections, temporary b-trees of DISTINCT/UNION queries), for the
# whole process: past it SQLite reuses its cache pages instead of allocating more (a soft limit: a statement is never
# refused). Without it the service-level job's timeline query over a 100,000-set interchange's keys took SQLite to
# 11 MB (sqlite3_memory_highwater) while the interchange's analysis was held, and the server's peak RSS with it;
# with 2 MB, 3-4 MB (bench/results/mem100.txt).
SQLITE_SOFT_HEAP_LIMIT = 2_000_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA soft_heap_limit={SQLITE_SOFT_HEAP_LIMIT}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cur.close()


# A pooled PostgreSQL connection idle longer than this is pinged (one round trip) before it is used again.
PING_AFTER_IDLE_SECONDS = 10.0


class _Liveness:
    """Checks a pooled PostgreSQL connection on checkout without a round trip while it is in steady use.

    SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` on every checkout: about 0.6 round trips per small file
    (bench/results/pgpath.txt). Here a connection is pinged only when it sat idle in the pool for
    :data:`PING_AFTER_IDLE_SECONDS`, or when its socket is readable while idle: an idle connection receives nothing
    unless the server ended it (a restart, ``pg_terminate_backend``: the server sends its FATAL message and closes),
    so that check is one ``select()`` call. A failed ping invalidates the whole pool (``InvalidatePoolError``: after a
    restart every pooled connection is dead) and SQLAlchemy checks out a fresh connection in its place, as with
    ``pool_pre_ping``. A connection that dies between the check and its first statement fails that transaction, as
    it could between a pre-ping and the statement; the flows leave the work in place for the next attempt."""

    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect

    def checkin(self, _dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checkout(self, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None:
            return  # a connection just opened
        if time.monotonic() - since < PING_AFTER_IDLE_SECONDS and not _readable(dbapi_conn):
            return
        try:
            self.dialect.do_ping(dbapi_conn)
        except self.dialect.loaded_dbapi.Error as exc:
            raise InvalidatePoolError(f"pooled connection dead: {type(exc).__name__}") from exc


def _readable(dbapi_conn: Any) -> bool:
    """Whether the server sent something to this idle connection (its end, as a rule), or the socket is gone."""
    try:
        ready, _, _ = select.select([dbapi_conn.fileno()], [], [], 0)
    except Exception:  # closed (psycopg raises OperationalError) or unusable: the ping says what it is
        return True
    return bool(ready)
SQLITE_BUSY_SECONDS = 30  # a write waits this long for another connection's (or process's) write to end


def _sqlite_busy(context: Any) -> StoreError | None:
    """A write that waited ``busy_timeout`` in vain (another process, an inbound worker, held the write lock all
    that time) fails as the store being away, not as a defect: the inbound flow leaves the file in place and the
    next poll tries again, instead of failing the message ("database is locked")."""
    orig = getattr(context, "original_exception", None)
    if orig is not None and "database is locked" in str(orig):
        return StoreError(f"the SQLite store stayed locked by another writer for {SQLITE_BUSY_SECONDS} s",
                          hint="a long write of another gateway process; the work is tried again")
    return None


# the encoder json.dumps uses (C; None where the interpreter has none), made once with json.dumps' default options
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_ENCODE = (
    _c_make_encoder(None, JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False, True)
    if _c_make_encoder is not None else None
)
_DUMPS = JSONEncoder().encode


def json_text(value: Any) -> str:
    """``json.dumps(value)`` (every JSON column's text: the timeline events' details, a dozen per small file),
    without the encoder ``json.dumps`` builds for every call (its circular-reference table, its float formatter):
    the same text for the same value, about a third of the time. Without the circular-reference check (the store's
    JSON values are trees built by the gateway), a value holding itself fails with RecursionError instead of
    ValueError."""
    if _ENCODE is None or type(value) is str:  # pragma: no cover - (a bare string: json.dumps's own fast path)
        return _DUMPS(value)
    return "".join(_ENCODE(value, 0))


def create_db_engine(url: str, **kw: Any) -> Engine:
    url = normalise_url(url)
    kw.setdefault("json_serializer", json_text)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}, **kw)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "handle_error", _sqlite_busy)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kw.setdefault("pool_size", 10)
        connect_args = {"connect_timeout": 10, "application_name": "gateway"}
        engine = create_engine(url, connect_args=connect_args, **kw)
        if not kw.get("pool_pre_ping"):  # checked on checkout without a round trip in steady use (_Liveness)
            live = _Liveness(engine.dialect)
            event.listen(engine, "checkin", live.checkin)
            event.listen(engine, "checkout", live.checkout)
        return engine
    raise StoreError(
        f"unsupported database URL scheme {parsed.get_backend_name()!r}",
        hint="use sqlite:///path/to/gateway.db or postgresql+psycopg://user@host/db",
    )


def reader(engine: Engine) -> Connection:
    """A connection for reads that need no snapshot across statements (an API answer put together from several
    SELECTs). On PostgreSQL it runs in autocommit: under READ COMMITTED each statement sees its own snapshot
    anyway, and this saves the BEGIN and ROLLBACK round trips. SQLite's driver opens no transaction for reads::

        with reader(engine) as conn:
            conn.execute(...)
    """
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def ping(engine: Engine) -> None:
    """Raise StoreError unless the database answers."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise StoreError(f"database unreachable: {type(getattr(exc, 'orig', None) or exc).__name__}") from exc


def redact_url(url: str) -> str:
    """The URL without its password, for logs and the API."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)
