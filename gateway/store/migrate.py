"""Apply the schema migrations (alembic) programmatically: at start-up and by ``gateway db upgrade``.

alembic (with mako and its other imports) costs a process about 10 MB of memory that it never gives back, even
once the modules are dropped. A store already at the head revision is the usual case at start-up, so
:func:`upgrade` first compares the store's ``alembic_version`` with the head found by reading the migration files'
``revision``/``down_revision`` lines (:func:`script_head`) and imports alembic only when there is something to
apply. ``gateway serve`` applies pending migrations in a forked child process (:func:`upgrade_in_child`), so that a
serving node never holds alembic at all.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text

from gateway.store.locks import lock_key

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
_REVISION = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:"([^"]*)"|\'([^\']*)\'|None)\s*$', re.M)


def alembic_config(engine: Engine | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``. On PostgreSQL the whole upgrade holds a transaction-level advisory lock: several
    nodes starting at once on a new (or older) database migrate one after the other, the later ones finding the
    schema at head, instead of racing to create the same tables. A store already at head is left alone without
    importing alembic."""
    if revision == "head" and at_head(engine):
        return
    from alembic import command

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("schema-migrations")})
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def script_head(folder: Path = MIGRATIONS / "versions") -> str:
    """The head revision of the migration files, read from their ``revision = "..."`` and ``down_revision = "..."``
    lines without importing them (or alembic). One head is expected: several (a branch) is an error."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(folder.glob("*.py")):
        found = {m.group(1): m.group(2) or m.group(3) for m in _REVISION.finditer(path.read_text(encoding="utf-8"))}
        if found.get("revision"):
            revisions.add(found["revision"])
            if found.get("down_revision"):
                parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"migration files in {folder}: expected one head revision, found {sorted(heads)}")
    return heads.pop()


def at_head(engine: Engine) -> bool:
    """Whether the store's schema is at the migration files' head revision (a store without the version table,
    a new one, is not)."""
    head = script_head()
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return False
        found = {row[0] for row in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))}  # noqa: S608
    return found == {head}


def upgrade_in_child(database: str) -> bool:
    """Apply pending migrations in a forked child process, so that this process does not import alembic: the
    child shares the modules already imported, imports alembic, migrates and exits. Only from a process with one
    thread (``gateway serve`` before it starts anything; forking a threaded process is unsafe) and where
    ``os.fork`` exists. True when the child succeeded; on False the caller migrates in-process as before (and
    reports any error the usual way)."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    pid = os.fork()
    if pid == 0:  # the child: never returns to the caller's code
        code = 1
        try:
            from gateway.store.db import create_db_engine

            engine = create_db_engine(database)
            upgrade(engine)
            engine.dispose()
            code = 0
        except BaseException:  # noqa: S110 - the parent migrates in-process and reports the error itself
            pass
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0
