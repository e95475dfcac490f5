"""PostgreSQL: the foreign keys of the rows every file writes (events, X12 lineage, ack links, delivery attempts,
outputs, hand-off rows) dropped, as 0021 dropped business_key's

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 23:30:00

PostgreSQL checks a foreign key with a trigger per inserted row: a ``SELECT 1 ... FOR KEY SHARE`` of the parent row
through SPI, run after the statement. A small inbound file writes about 20 such rows (10 timeline events, its
interchange, group and set, the 997's ack link with two keys, its delivery attempt, the canonical output, the
hand-off row): 10-15 % of the PostgreSQL backends' CPU per file (bench/results/pgsmall.txt). As for business keys
(0021), the checks guard nothing the gateway does: these rows are written only by the store, in the transaction that
creates their message (or lineage parent) or after it, for a message it has read; messages are never deleted
(retention purges payloads and keeps the rows); a lineage is replaced by deleting its sets, then its groups, then its
interchanges (``gateway.store.batch.DELETE_LINEAGE``). The ``message_id`` indexes stay (every read goes through them).

SQLite keeps its foreign keys (checked by a lookup in the same process; changing a constraint there means rebuilding
the table). Idempotent both ways: a constraint already dropped is skipped, and the downgrade adds back only the
missing ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

# (table, constraint as PostgreSQL named it at create_table, column, referenced table)
FOREIGN_KEYS = (
    ("event", "event_message_id_fkey", "message_id", "message"),
    ("interchange", "interchange_message_id_fkey", "message_id", "message"),
    ("functional_group", "functional_group_interchange_id_fkey", "interchange_id", "interchange"),
    ("functional_group", "functional_group_message_id_fkey", "message_id", "message"),
    ("transaction_set", "transaction_set_group_id_fkey", "group_id", "functional_group"),
    ("transaction_set", "transaction_set_message_id_fkey", "message_id", "message"),
    ("ack_link", "ack_link_message_id_fkey", "message_id", "message"),
    ("ack_link", "ack_link_ack_message_id_fkey", "ack_message_id", "message"),
    ("delivery_attempt", "delivery_attempt_message_id_fkey", "message_id", "message"),
    ("output", "output_message_id_fkey", "message_id", "message"),
    ("handoff", "handoff_message_id_fkey", "message_id", "message"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name, _column, _parent in FOREIGN_KEYS:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    present = set(bind.execute(sa.text("SELECT conname FROM pg_constraint WHERE contype = 'f' "
                                       "AND connamespace = current_schema()::regnamespace")).scalars())
    for table, name, column, parent in FOREIGN_KEYS:
        if name not in present:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {parent} (id)")
