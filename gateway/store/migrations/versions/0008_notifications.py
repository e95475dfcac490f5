"""notifications sent: one row per notice (kind + key), so a condition that persists is announced once per
``repeat_hours`` across restarts and across nodes sharing the store

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC = gateway.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notification_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("first_at", UTC, nullable=False),
        sa.Column("last_sent_at", UTC, nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "dedup_key"),
    )


def downgrade() -> None:
    op.drop_table("notification_sent")
