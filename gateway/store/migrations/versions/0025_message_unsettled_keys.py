"""message.unsettled_keys_after: where the business keys of a large file's unsettled reading begin

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 23:40:00

A large file's business keys are written in chunks while its envelope analysis reads it (gateway.flows.batching
KeyTap), before the analysis decides whether the file is usable X12. When it is refused, the keys that reading
wrote are deleted again, and only those: a message read before (a reprocess) keeps the keys of its earlier reading.
The column holds the message's highest key id when such a reading began (NULL when none is unsettled): the keys
above it are that reading's (gateway/store/records.py, ``mark_key_reading``, ``forget_unsettled_keys``). A plain
nullable ADD COLUMN on both backends (a batch copy on SQLite would drop the search triggers).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


COLUMN = "unsettled_keys_after"


def upgrade() -> None:
    if COLUMN not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("message")}:  # safe to run again
        op.add_column("message", sa.Column(COLUMN, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("message", COLUMN)
