"""Bulk ``INSERT``/``UPDATE`` of many plain rows on SQLite, bound by the driver without SQLAlchemy's per-row work.

``conn.execute(insert(table), rows)`` builds a parameter dictionary for every row (``construct_params``) and runs
each value's processor through a generic loop: on SQLite that costs about as much again as the insert itself.
A small file writes about a dozen timeline events and twenty business keys, so :func:`insert_rows` compiles the
statement once per set of columns, with SQLAlchemy, to its SQL text and the processor of each column (the same
ones SQLAlchemy would apply: timestamps, JSON), and hands the driver one list of tuples (``executemany``): each
row's values are taken by one ``itemgetter`` and only the columns with a processor are converted.
:func:`update_rows` does the same for an ``UPDATE ... WHERE id = :bound`` run once per row, and
:func:`insert_returning_ids` sends many rows as multi-row ``INSERT ... VALUES (...), (...) RETURNING id``
statements (SQLAlchemy's own "insertmanyvalues" rebuilds each row's parameters the generic way).

On PostgreSQL the rows go as one statement of column arrays (:mod:`gateway.store.pg_bulk`). Anything unusual
takes SQLAlchemy's own path: another database, a single row, or a statement with a column the rows do not give (a
default SQLAlchemy would compute per row).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Insert

from gateway.store import pg_bulk


class _Plan:
    """A statement compiled for one set of row keys: its SQL, the columns in bind order, and how to get a row's
    parameters (one ``itemgetter``, then the processor of each column that has one)."""

    __slots__ = ("converters", "get", "names", "sql")

    def __init__(self, sql: str, names: list[str], processors: list[Callable[[Any], Any] | None]) -> None:
        self.sql = sql
        self.names = names
        getter = itemgetter(*names)
        self.get: Callable[[dict[str, Any]], tuple[Any, ...]] = (
            getter if len(names) > 1 else lambda row: (getter(row),))
        self.converters = [(i, p) for i, p in enumerate(processors) if p is not None]

    def params(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        get, converters = self.get, self.converters
        if not converters or not rows:
            return [get(row) for row in rows]
        # by column: each converter mapped over its column, the rows zipped back together (no list and tuple made
        # per row in Python: about a third less than converting row by row)
        columns: list[Any] = list(zip(*map(get, rows), strict=True))
        for i, p in converters:
            columns[i] = map(p, columns[i])
        return list(zip(*columns, strict=True))


# (id of the statement, row keys) -> (the statement, kept so its id stays its own; the plan, or None: not for this
# path). Statements are module constants: a statement built per call would be planned (compiled) every time.
_PLANS: dict[tuple[int, tuple[str, ...]], tuple[Any, _Plan | None]] = {}
MAX_PLANS = 512  # a caller building statements per call cannot grow the cache without bound


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
    execute_rows(conn, stmt, rows)


def update_rows(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Execute the Core ``UPDATE`` ``stmt`` (its ``WHERE`` on a ``bindparam`` the rows give) once per row, as
    ``conn.execute(stmt, rows)`` would; on SQLite with the driver's ``executemany``."""
    if rows:
        execute_rows(conn, stmt, rows)


def execute_rows(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """``conn.execute(stmt, rows)``; on SQLite with a compiled plan and the driver's ``executemany``."""
    if len(rows) == 1 or conn.dialect.name != "sqlite":
        conn.execute(stmt, list(rows))
        return
    plan = _plan_of(conn, stmt, tuple(rows[0]))
    if plan is None:
        conn.execute(stmt, list(rows))
        return
    conn.exec_driver_sql(plan.sql, plan.params(rows))


def insert_returning_ids(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> list[int] | None:
    """On SQLite: insert ``rows`` with the plain ``INSERT`` ``stmt`` in multi-row ``INSERT ... VALUES ...
    RETURNING id`` statements and return the new ids, unsorted (as SQLite returns them); None when the statement
    is not for this path (the caller takes SQLAlchemy's)."""
    plan = _plan_of(conn, stmt, tuple(rows[0]))
    if plan is None or not plan.names:
        return None
    head, _sep, one = plan.sql.partition(" VALUES ")
    if not one.startswith("(") or " RETURNING " in one:
        return None
    per = max(1, MAX_VARIABLES // len(plan.names))
    params = plan.params(rows)
    ids: list[int] = []
    for start in range(0, len(params), per):
        chunk = params[start:start + per]
        sql = f"{head} VALUES {', '.join([one] * len(chunk))} RETURNING id"
        flat = tuple(v for values in chunk for v in values)
        ids += [int(r[0]) for r in conn.exec_driver_sql(sql, flat)]
    return ids


def _plan_of(conn: Connection, stmt: Any, keys: tuple[str, ...]) -> _Plan | None:
    got = _PLANS.get((id(stmt), keys))
    if got is None:
        if len(_PLANS) >= MAX_PLANS:
            _PLANS.clear()
        got = _PLANS[(id(stmt), keys)] = (stmt, _plan(conn, stmt, keys))
    return got[1]


def _plan(conn: Connection, stmt: Any, keys: tuple[str, ...]) -> _Plan | None:
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    names = compiled.positiontup
    if names is None or not set(names) <= set(keys) or set(keys) - set(names):
        return None  # a default computed per row, a column not in the table: SQLAlchemy's path
    processors = [_none_once(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                  for name in names]
    return _Plan(compiled.string, list(names), processors)


def _none_once(process: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """``process`` with its answer for ``None`` computed once: a JSON column's ``None`` (a message's ``error``, an
    event without detail) is serialised to the same ``'null'`` every time through the JSON encoder."""
    if process is None:
        return None
    try:
        none = process(None)
    except Exception:  # a type that refuses None: left to its own processor
        return process
    if none is None:
        return process

    def bind(value: Any) -> Any:
        return none if value is None else process(value)

    return bind


def _max_variables() -> int:
    import sqlite3

    return 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999  # SQLITE_MAX_VARIABLE_NUMBER's default


MAX_VARIABLES = _max_variables()
