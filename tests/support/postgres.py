"""A throw-away PostgreSQL database per test session on the server at GATEWAY_TEST_POSTGRES_URL
(default: postgresql+psycopg://postgres@127.0.0.1:5432/test). Parallel runs never share a database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def reachable(url: str = ADMIN_URL) -> str | None:
    """None when the server answers, else the reason."""
    try:
        eng = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure means "not usable here"
        return f"PostgreSQL not reachable at {make_url(url).render_as_string(hide_password=True)}: {type(exc).__name__}"


@contextmanager
def scratch_database(prefix: str = "gw_test") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def reset_schema(url: str) -> None:
    """Empty the database (every table, sequence and type) so a test starts from nothing."""
    eng = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text("DROP SCHEMA public CASCADE"))
        c.execute(sa.text("CREATE SCHEMA public"))
    eng.dispose()
