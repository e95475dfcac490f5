"""Counts what a process sends to its database, for ``bench/e2e.py --count-sql FILE`` (loaded as ``sitecustomize``
through PYTHONPATH in the gateway server it starts): statements by their first words, rows of executemany calls,
commits, rollbacks and pool checkouts. Written to ``$SQLCOUNT_OUT.<pid>`` at exit, and every 2 s while it runs: one
file per process (``gateway serve`` and its inbound worker processes inherit the variable; bench/e2e.py sums them)."""

from __future__ import annotations

import collections
import os
import re
import sys
import threading

OUT = os.environ.get("SQLCOUNT_OUT")
counts: collections.Counter[str] = collections.Counter()
lock = threading.Lock()


def _kind(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql.strip())
    m = re.match(r"(INSERT INTO \S+|UPDATE \S+|DELETE FROM \S+|SELECT .*? FROM \S+|\w+)", sql, re.I)
    return (m.group(1) if m else sql)[:90]


def _site() -> str:
    """The innermost gateway frame outside the store's own modules, and the store frame below it."""
    import sys

    f = sys._getframe(2)
    store = None
    while f is not None:
        name = f.f_code.co_filename
        if "/gateway/" in name:
            short = name.split("/gateway/", 1)[1] + f":{f.f_code.co_name}"
            if "/gateway/store/" in name:
                store = store or short
            else:
                return short + (f" > {store}" if store else "")
        f = f.f_back
    return store or "?"


def _install() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    @event.listens_for(Engine, "before_cursor_execute")
    def _stmt(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        with lock:
            counts["statements"] += 1
            counts["stmt " + _kind(statement)] += 1
            if executemany:
                counts["executemany rows"] += len(parameters)

    @event.listens_for(Engine, "commit")
    def _commit(conn):  # type: ignore[no-untyped-def]
        counts["commits"] += 1
        counts["commit at " + _site()] += 1

    @event.listens_for(Engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        counts["begin at " + _site()] += 1

    @event.listens_for(Engine, "rollback")
    def _rollback(conn):  # type: ignore[no-untyped-def]
        counts["rollbacks"] += 1

    @event.listens_for(Pool, "checkout")
    def _checkout(*_a):  # type: ignore[no-untyped-def]
        counts["checkouts"] += 1


def _snapshot() -> dict[str, int]:
    with lock:
        return dict(counts)


if OUT:
    sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "hookout"))
    from hookout import keep_written

    _install()
    keep_written(OUT, _snapshot, every=2, name="sqlcount")
