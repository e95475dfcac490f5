"""business keys: PostgreSQL's foreign key from ``business_key.message_id`` to ``message`` dropped

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 17:45:00

A foreign key is checked by a trigger per inserted row (a ``SELECT ... FOR KEY SHARE`` of the message row through
SPI): 140,000 of them for a 10,000-set interchange's keys, 15-20 % of the keys' PostgreSQL CPU
(``bench/results/pglarge.txt``), and the keys' inserts are what a large file's intake waits for on PostgreSQL. The
check guards nothing the gateway does: keys are written only by the store, for a message it has just created or
read (in the same transaction or after it), and messages are never deleted (retention purges payloads and keeps
the rows). SQLite: nothing to do (its foreign keys are checked by a lookup in the same process, and changing a
constraint there means rebuilding the table with its search-index triggers).
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

NAME = "business_key_message_id_fkey"  # PostgreSQL's default name, given by migration 0002's create_table


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE business_key DROP CONSTRAINT IF EXISTS {NAME}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE business_key ADD CONSTRAINT {NAME} FOREIGN KEY (message_id) REFERENCES message (id)")
