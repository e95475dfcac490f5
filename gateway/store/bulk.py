"""Bulk ``INSERT`` of many plain rows on SQLite, bound by the driver without SQLAlchemy's per-row work.

``conn.execute(insert(table), rows)`` builds a parameter dictionary for every row (``construct_params``) and runs
each value's processor through a generic loop: on SQLite that costs about as much again as the insert itself.
A small file writes about a dozen timeline events and twenty business keys, so :func:`insert_rows` compiles the
statement once per set of columns, with SQLAlchemy, to its SQL text and the processor of each column (the same
ones SQLAlchemy would apply: timestamps, JSON), and hands the driver one list of tuples (``executemany``).

On PostgreSQL the rows go as one statement of column arrays (:mod:`gateway.store.pg_bulk`). Anything unusual
takes SQLAlchemy's own path: another database, a single row, or a statement with a column the rows do not give (a
default SQLAlchemy would compute per row).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Insert

from gateway.store import pg_bulk

# (statement, columns) -> (SQL, [(column, processor or None)]), or None: not for this path
_Plan = tuple[str, list[tuple[str, Callable[[Any], Any] | None]]]
_PLANS: dict[tuple[int, tuple[str, ...]], tuple[Any, _Plan | None]] = {}


def insert_rows(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Execute the Core ``INSERT`` ``stmt`` for ``rows`` (dictionaries with the same keys), as
    ``conn.execute(stmt, rows)`` would."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql" and type(stmt) is Insert:  # a plain INSERT (no ON CONFLICT ...): one statement of
        table: Any = stmt.table  # column arrays (an executemany is a round trip per row there)
        pg_bulk.insert(conn, table, list(rows))
        return
    if len(rows) == 1 or dialect != "sqlite":
        conn.execute(stmt, list(rows))
        return
    keys = tuple(rows[0])
    got = _PLANS.get((id(stmt), keys))
    if got is None:  # the statement is kept with its plan: its id stays its own
        got = _PLANS[(id(stmt), keys)] = (stmt, _plan(conn, stmt, keys))
    plan = got[1]
    if plan is None:
        conn.execute(stmt, list(rows))
        return
    sql, columns = plan
    params = [tuple(row[c] if p is None else p(row[c]) for c, p in columns) for row in rows]
    conn.exec_driver_sql(sql, params)


def _plan(conn: Connection, stmt: Any, keys: tuple[str, ...]) -> _Plan | None:
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    names = compiled.positiontup
    if names is None or not set(names) <= set(keys) or set(keys) - set(names):
        return None  # a default computed per row, a column not in the table: SQLAlchemy's path
    columns = []
    for name in names:
        typ = compiled.binds[name].type
        columns.append((name, typ.dialect_impl(dialect).bind_processor(dialect)))
    return compiled.string, columns
