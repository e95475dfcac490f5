"""PostgreSQL bulk writes as column arrays: one ``INSERT ... SELECT FROM unnest(...)`` (or ``UPDATE ... FROM
unnest(...)``) whatever the number of rows, with a statement text that depends only on the columns.

Why: on PostgreSQL an executemany is one round trip per row even pipelined, and SQLAlchemy's multi-row ``VALUES``
(its "insertmanyvalues", used for ``INSERT ... RETURNING``) renders a new statement per row count with one bound
parameter per cell, which psycopg converts again on every call (statements that long are not cached) and the server
parses and plans every time. Here the parameters are one array per column, so the text is the same for 1 or 1,000
rows: psycopg caches its conversion and prepares it on the server after a few uses. The arrays go in binary
(``%b``): psycopg's text form of an array escapes each element in Python, 3-4 times the client CPU. Values go
through each column type's bind processor first (JSON, the UTC timestamps), and absent columns get their
Python-side defaults, exactly as SQLAlchemy does for an ``insert(table)`` with the same rows; a key not a column of
the table is an error.

Same rows, same order of ids: ``insert(..., returning=True)`` inserts in the rows' order (``WITH ORDINALITY ...
ORDER BY``), so the ids the sequence gives come out ascending in that order (what SQLAlchemy's own sorted
``RETURNING`` relies on for a serial key).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

_TYPES: dict[tuple[str, str], tuple[str, Any]] = {}  # (table, column) -> (PostgreSQL type, bind processor)
_SQL: dict[tuple[Any, ...], str] = {}  # statement texts by shape


def _column(conn: Connection, table: Table, name: str) -> tuple[str, Any]:
    got = _TYPES.get((table.name, name))
    if got is None:
        col = table.c[name]  # KeyError for a key that is not a column: as SQLAlchemy would refuse it
        # the array's element type without a length (``VARCHAR(16)`` -> ``VARCHAR``): a cast would cut a value too
        # long silently; the insert into the column refuses it, as a plain INSERT would
        pg_type = re.sub(r"\(\d+\)", "", col.type.compile(dialect=conn.dialect))
        got = (pg_type, col.type._cached_bind_processor(conn.dialect))
        _TYPES[(table.name, name)] = got
    return got


def _arrays(conn: Connection, table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for i, name in enumerate(names):
        _type, process = _column(conn, table, name)
        default: Any = table.c[name].default  # a ColumnDefault: ``arg`` is the value or the callable
        if default is None or all(name in r for r in rows):
            values = [r.get(name) for r in rows]
        elif default.is_callable:
            values = [r[name] if name in r else default.arg(None) for r in rows]
        else:
            values = [r.get(name, default.arg) for r in rows]
        params[f"c{i}"] = [process(v) for v in values] if process is not None else values
    return params


def _names(table: Table, rows: Sequence[dict[str, Any]]) -> list[str]:
    keys: set[str] = set()
    for r in rows:
        keys.update(r)
    for name in keys:
        table.c[name]  # raises KeyError for a key that is not a column
    # every column given in a row, and those with a Python-side default (filled in as SQLAlchemy would)
    return [c.name for c in table.columns if c.name in keys or (c.default is not None and not c.primary_key)]


def insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, returning: bool = False,
           on_conflict: Sequence[str] | None = None) -> list[int]:
    """Insert ``rows`` (dicts of column values) in one statement; with ``returning``, their new ``id`` values in
    the rows' order. ``on_conflict``: the unique columns of ``ON CONFLICT (...) DO NOTHING`` (no ids then)."""
    if not rows:
        return []
    names = _names(table, rows)
    shape = (table.name, tuple(names), returning, tuple(on_conflict or ()))
    sql = _SQL.get(shape)
    if sql is None:
        cols = ", ".join(f'"{n}"' for n in names)
        arrays = ", ".join(f"CAST(%(c{i})b AS {_column(conn, table, n)[0]}[])" for i, n in enumerate(names))
        alias = ", ".join(f'"{n}"' for n in names)
        sql = f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM unnest({arrays})'  # noqa: S608 - names from the table
        if returning:
            sql += f" WITH ORDINALITY AS u({alias}, _ord) ORDER BY _ord"
        else:
            sql += f" AS u({alias})"
        if on_conflict:
            sql += " ON CONFLICT ({}) DO NOTHING".format(", ".join(f'"{n}"' for n in on_conflict))
        if returning:
            sql += " RETURNING id"
        _SQL[shape] = sql
    result = conn.exec_driver_sql(sql, _arrays(conn, table, names, rows))
    if not returning:
        return []
    return sorted(int(i) for (i,) in result)


def update(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, key: str) -> None:
    """``UPDATE table SET ... WHERE id = row[key]`` for each row, in one statement. Every row has the same keys,
    each id once."""
    if not rows:
        return
    names = [n for n in rows[0] if n != key]
    shape = ("update", table.name, key, tuple(names))
    sql = _SQL.get(shape)
    if sql is None:
        sets = ", ".join(f'"{n}" = u."{n}"' for n in names)
        arrays = ", ".join(f"CAST(%(c{i})b AS {_column(conn, table, n)[0]}[])" for i, n in enumerate(names, 1))
        alias = ", ".join(f'"{n}"' for n in names)
        sql = (f'UPDATE "{table.name}" SET {sets} '  # noqa: S608 - names from the table
               f'FROM unnest(CAST(%(c0)b AS BIGINT[]), {arrays}) AS u(_id, {alias}) WHERE "{table.name}".id = u._id')
        _SQL[shape] = sql
    params = {"c0": [r[key] for r in rows]}
    for i, name in enumerate(names, 1):
        process = _column(conn, table, name)[1]
        values = [r[name] for r in rows]
        params[f"c{i}"] = [process(v) for v in values] if process is not None else values
    conn.exec_driver_sql(sql, params)
