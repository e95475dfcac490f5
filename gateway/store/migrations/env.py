"""Alembic environment: runs on the connection handed over by gateway.store.migrate (or a URL for autogenerate)."""

from __future__ import annotations

import os

import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)
from alembic import context

from gateway.store import models
from gateway.store.db import create_db_engine

target_metadata = models.SQLModel.metadata
config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # command line: alembic -x url=sqlite:///var/gateway.db revision --autogenerate
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ["GATEWAY_DATABASE_URL"]
    with create_db_engine(url).begin() as conn:
        _run(conn)
