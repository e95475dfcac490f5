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
_SQL: dict[tuple[Any, ...], str] = {}  # statement texts by shape (and combined texts by their parts' texts)
MAX_TEXTS = 4096


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
    sql, params = insert_part(conn, table, rows, returning=returning, on_conflict=on_conflict)
    result = conn.exec_driver_sql(sql, params)
    if not returning:
        return []
    return sorted(int(i) for (i,) in result)


def insert_part(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, returning: bool = False,
                on_conflict: Sequence[str] | None = None, prefix: str = "") -> tuple[str, dict[str, Any]]:
    """:func:`insert`'s statement and parameters (named ``{prefix}c0``, ``{prefix}c1`` ...) without running it:
    for :func:`execute_parts`. ``rows`` must not be empty."""
    names = _names(table, rows)
    shape = (table.name, tuple(names), returning, tuple(on_conflict or ()), prefix)
    sql = _SQL.get(shape)
    if sql is None:
        cols = ", ".join(f'"{n}"' for n in names)
        arrays = ", ".join(f"CAST(%({prefix}c{i})b AS {_column(conn, table, n)[0]}[])" for i, n in enumerate(names))
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
    params = _arrays(conn, table, names, rows)
    if prefix:
        params = {prefix + k: v for k, v in params.items()}
    return sql, params


def update(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, key: str) -> None:
    """``UPDATE table SET ... WHERE id = row[key]`` for each row, in one statement. Every row has the same keys,
    each id once."""
    if rows:
        conn.exec_driver_sql(*update_part(conn, table, rows, key=key))


def update_part(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, key: str,
                prefix: str = "") -> tuple[str, dict[str, Any]]:
    """:func:`update`'s statement and parameters without running it (for :func:`execute_parts`)."""
    names = [n for n in rows[0] if n != key]
    shape = ("update", table.name, key, tuple(names), prefix)
    sql = _SQL.get(shape)
    if sql is None:
        sets = ", ".join(f'"{n}" = u."{n}"' for n in names)
        arrays = ", ".join(f"CAST(%({prefix}c{i})b AS {_column(conn, table, n)[0]}[])" for i, n in enumerate(names, 1))
        alias = ", ".join(f'"{n}"' for n in names)
        sql = (f'UPDATE "{table.name}" SET {sets} '  # noqa: S608 - names from the table
               f'FROM unnest(CAST(%({prefix}c0)b AS BIGINT[]), {arrays}) AS u(_id, {alias}) '
               f'WHERE "{table.name}".id = u._id')
        _SQL[shape] = sql
    params = {f"{prefix}c0": [r[key] for r in rows]}
    for i, name in enumerate(names, 1):
        process = _column(conn, table, name)[1]
        values = [r[name] for r in rows]
        params[f"{prefix}c{i}"] = [process(v) for v in values] if process is not None else values
    return sql, params


def execute_parts(conn: Connection, parts: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Run several writes (statements of :func:`insert_part`/:func:`update_part` without ``RETURNING``, their
    parameter names distinct) as ONE statement: all but the last as data-modifying ``WITH`` queries. One round
    trip, one parse and plan (prepared after a few uses: the text depends only on the parts' shapes) instead of one
    each. The parts run on one snapshot and none sees another's rows: they must write different tables, or
    different rows of one table (PostgreSQL updates a row at most once per statement)."""
    if not parts:
        return
    if len(parts) == 1:
        conn.exec_driver_sql(*parts[0])
        return
    texts = tuple(sql for sql, _p in parts)
    sql = _SQL.get(texts)
    if sql is None:
        if len(_SQL) >= MAX_TEXTS:  # shapes are few; a caller making new ones without end cannot grow it for ever
            _SQL.clear()
        sql = _SQL[texts] = "WITH {} {}".format(
            ", ".join(f"w{i} AS ({t})" for i, t in enumerate(texts[:-1])), texts[-1])
    params: dict[str, Any] = {}
    for _sql, p in parts:
        params.update(p)
    conn.exec_driver_sql(sql, params)
