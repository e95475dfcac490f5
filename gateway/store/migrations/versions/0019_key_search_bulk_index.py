"""business keys: SQLite's trigram search index fed by one statement per insert, not a trigger per row

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-07 05:00:00

FTS5 flushes its pending terms at each statement savepoint, so the row trigger ``business_key_ai`` wrote one index
segment per key: about 4 s of a 10,000-set interchange's 140,000 keys. :func:`gateway.store.key_index.insert_keys`
now feeds ``business_key_fts`` with one ``INSERT ... SELECT`` of the rows it inserted. The delete trigger stays;
the update trigger fires on a change of ``value`` only (the service-level index fills in ``norm`` on rows written
without it: that re-indexed each such row for nothing). PostgreSQL: nothing to do (GIN indexes).
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None

INSERT_TRIGGER = ("CREATE TRIGGER business_key_ai AFTER INSERT ON business_key BEGIN "
                  "INSERT INTO business_key_fts(rowid, value) VALUES (new.id, new.value); END")
REINDEX = ("INSERT INTO business_key_fts(business_key_fts, rowid, value) VALUES ('delete', old.id, old.value); "
           "INSERT INTO business_key_fts(rowid, value) VALUES (new.id, new.value); END")
UPDATE_ANY = "CREATE TRIGGER business_key_au AFTER UPDATE ON business_key BEGIN " + REINDEX
UPDATE_VALUE = "CREATE TRIGGER business_key_au AFTER UPDATE OF value ON business_key BEGIN " + REINDEX


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS business_key_ai")
        op.execute("DROP TRIGGER IF EXISTS business_key_au")
        op.execute(UPDATE_VALUE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS business_key_au")
        op.execute(UPDATE_ANY)
        op.execute(INSERT_TRIGGER)
