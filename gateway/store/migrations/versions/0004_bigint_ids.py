"""64-bit ids on PostgreSQL: message ids (and every id and reference to one) are BIGINT

SQLite's INTEGER PRIMARY KEY is already 64-bit; PostgreSQL's SERIAL is 32-bit, so a store that lives long enough
would run out at 2,147,483,647, and a query for a larger id failed with a database error instead of "not found".
The sequences behind the ids become BIGINT too. Nothing changes on SQLite.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# table -> integer columns holding a message id, or another row's id
COLUMNS = {
    "message": ["id", "size"],  # size too: payloads over 2 GiB
    "event": ["id", "message_id"],
    "interchange": ["id", "message_id"],
    "functional_group": ["id", "interchange_id", "message_id"],
    "transaction_set": ["id", "group_id", "message_id"],
    "ack_link": ["id", "message_id", "ack_message_id"],
    "business_key": ["id", "message_id"],
    "delivery_attempt": ["id", "message_id"],
    "output": ["id", "message_id", "size"],
}


def _alter(type_: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(sa.text(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE {type_}'))
        seq = bind.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
        if seq:
            op.execute(sa.text(f"ALTER SEQUENCE {seq} AS {type_}"))


def upgrade() -> None:
    _alter("BIGINT")


def downgrade() -> None:
    _alter("INTEGER")
