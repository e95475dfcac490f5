"""support worklist: resolutions of attention items (message + kind), with the actor and a note

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

# ids and message ids are BIGINT on PostgreSQL, as migration 0004 made every other one (INTEGER on SQLite)
ID64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

UTC = gateway.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "attention_resolution",
        sa.Column("id", ID64, nullable=False),
        sa.Column("message_id", ID64, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("resolved_at", UTC, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attention_resolution_message_kind", "attention_resolution", ["message_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_attention_resolution_message_kind", table_name="attention_resolution")
    op.drop_table("attention_resolution")
