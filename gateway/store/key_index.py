"""Writing business keys: one bulk insert, and on SQLite the trigram search index (``business_key_fts``) fed in
one statement per insert.

The FTS5 index used to be fed by a row trigger (``business_key_ai``, migration 0002). FTS5 flushes its pending
terms at every statement savepoint, so a trigger firing once per row wrote one tiny index segment per key and merged
them again: 140,000 keys of a 10,000-set interchange cost about 4 s that way, against 0.15 s for one
``INSERT INTO business_key_fts ... SELECT`` of the rows just inserted (migration 0019 drops the trigger; the update
and delete triggers stay). The rows just inserted are those with an id above the highest id before the insert,
read once the transaction holds SQLite's write lock (a no-op DELETE takes it first: the driver opens the
transaction at the first writing statement, and a SELECT before it would see the store without the rows another
writer is about to commit; not needed when the transaction has written already), so no other row can come in
between; keys already recorded (``ON CONFLICT DO NOTHING``) get no new id, so nothing is indexed twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from gateway.store.bulk import insert_rows
from gateway.store.models import BusinessKey

T_KEY = BusinessKey.__table__  # type: ignore[attr-defined]
UNIQUE = ["message_id", "kind", "value"]
_STATEMENTS: dict[str, Any] = {}
WRITE_LOCK = "DELETE FROM business_key WHERE id = -1"  # matches no row; takes the write lock
LAST_ID = "SELECT coalesce(max(id), 0) FROM business_key"
INDEX_NEW = "INSERT INTO business_key_fts(rowid, value) SELECT id, value FROM business_key WHERE id > ?"
# PostgreSQL: the rows as four arrays (an executemany is one round trip per row, even pipelined: 17% of a 10 MB
# file's server time went to its 140,000 keys that way), sent in binary (psycopg's text form of an array escapes
# each element in Python: 3-4 times the client CPU)
PG_UNNEST = (
    "INSERT INTO business_key (message_id, kind, value, norm) "
    "SELECT * FROM unnest(CAST(%(m)b AS bigint[]), CAST(%(k)b AS varchar[]), CAST(%(v)b AS varchar[]), "
    "CAST(%(n)b AS varchar[])) ON CONFLICT (message_id, kind, value) DO NOTHING"
)
# keys expected not to be recorded yet: a plain INSERT (ON CONFLICT's speculative insertion costs PostgreSQL about
# a fifth more per row: a probe of the unique index before the heap tuple, and more WAL)
PG_NEW = PG_UNNEST.removesuffix(" ON CONFLICT (message_id, kind, value) DO NOTHING")


def _insert(dialect: str) -> Any:
    stmt = _STATEMENTS.get(dialect)
    if stmt is None:
        if dialect == "postgresql":
            stmt = pg_insert(T_KEY).on_conflict_do_nothing(index_elements=UNIQUE)
        elif dialect == "sqlite":
            stmt = sqlite_insert(T_KEY).on_conflict_do_nothing(index_elements=UNIQUE)
        else:  # pragma: no cover - only the two supported backends
            raise RuntimeError(f"unsupported database {dialect}")
        _STATEMENTS[dialect] = stmt
    return stmt


def insert_keys(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert key rows (``message_id``, ``kind``, ``value``, ``norm``); rows already recorded are kept once."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":  # one statement, one round trip, whatever the count (the GIN indexes follow)
        conn.exec_driver_sql(PG_UNNEST, _pg_arrays(rows))
        return
    if dialect != "sqlite":  # pragma: no cover - only the two supported backends
        conn.execute(_insert(dialect), rows)
        return
    if not _writing(conn):
        conn.exec_driver_sql(WRITE_LOCK)
    last = conn.exec_driver_sql(LAST_ID).scalar_one()
    insert_rows(conn, _insert(dialect), rows)
    conn.exec_driver_sql(INDEX_NEW, (last,))


def insert_new_keys(conn: Connection, rows: list[dict[str, Any]]) -> bool:
    """:func:`insert_keys` for rows the caller expects not to be recorded yet (a large file's keys, chunk by chunk:
    see gateway.flows.batching.KeySink). PostgreSQL: a plain ``INSERT`` in a savepoint; when some row is recorded
    already (or twice in ``rows``), back to the savepoint and :func:`insert_keys`. False when that happened."""
    if not rows:
        return True
    if conn.dialect.name != "postgresql":
        insert_keys(conn, rows)
        return True
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(PG_NEW, _pg_arrays(rows))
    except IntegrityError:
        insert_keys(conn, rows)
        return False
    return True


def pg_part(rows: list[dict[str, Any]], prefix: str) -> tuple[str, dict[str, list[Any]]]:
    """PostgreSQL: :func:`insert_keys`'s statement and parameters (named after ``prefix``) without running it, to
    go with other writes in one statement (:func:`gateway.store.pg_bulk.execute_parts`)."""
    sql = _PG_PARTS.get(prefix)
    if sql is None:
        sql = _PG_PARTS[prefix] = PG_UNNEST.replace("%(", f"%({prefix}")
    return sql, {prefix + k: v for k, v in _pg_arrays(rows).items()}


_PG_PARTS: dict[str, str] = {}


def _pg_arrays(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {
        "m": [r["message_id"] for r in rows],
        "k": [r["kind"] for r in rows],
        "v": [r["value"] for r in rows],
        "n": [r.get("norm") for r in rows],
    }


def _writing(conn: Connection) -> bool:
    """Whether this SQLite transaction has written already (so it holds the write lock): the driver opens its
    transaction at the first writing statement (``INSERT``/``UPDATE``/``DELETE``), not at a ``SELECT``. A batch
    writes its keys after the message rows, lineage and updates of the same transaction: no statement to take the
    lock then."""
    raw = conn.connection.driver_connection
    return bool(getattr(raw, "isolation_level", None) is not None and getattr(raw, "in_transaction", False))
