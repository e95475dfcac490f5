"""Copy a kept SQLite store's messages and business keys into a fresh, migrated PostgreSQL database, for
``bench/stall_index.py --postgresql URL`` (the same keys indexed on both backends).

    PYTHONPATH=<checkout> python bench/business_keys_to_pg.py <sqlite .db> <new database name> [admin URL]

The database is dropped first if it exists; prints its URL."""

from __future__ import annotations

import argparse
import re
import sys

import sqlalchemy as sa

from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("sqlite")
    p.add_argument("name")
    p.add_argument("admin", nargs="?", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = p.parse_args()
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.name):
        sys.exit("database name: lower-case letters, digits and _ only")
    admin = sa.create_engine(args.admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {args.name}"))
        conn.execute(sa.text(f"CREATE DATABASE {args.name}"))
    url = admin.url.set(database=args.name).render_as_string(hide_password=False)
    dst = create_db_engine(url)
    upgrade(dst)
    md = sa.MetaData()
    md.reflect(dst, only=["message", "business_key"])
    src = create_db_engine(f"sqlite:///{args.sqlite}")
    with src.connect() as s, dst.begin() as d:
        for name in ("message", "business_key"):
            table = md.tables[name]
            cols = ", ".join(f'"{c.name}"' for c in table.columns)
            d.execute(table.insert(), [dict(r._mapping) for r in s.execute(sa.text(f"SELECT {cols} FROM {name}"))])
            d.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
    print(url)


if __name__ == "__main__":
    main()
