"""several nodes: a lease (owner node, until) on messages in flight, and the node registry with heartbeats

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTC = gateway.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    # plain ADD COLUMNs on both backends (a batch copy on SQLite would drop the search triggers)
    op.add_column("message", sa.Column("lease_owner", sa.String(length=64), nullable=True))
    op.add_column("message", sa.Column("lease_until", UTC, nullable=True))
    op.create_table(
        "gateway_node",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("last_seen", UTC, nullable=False),
        sa.Column("stopped_at", UTC, nullable=True),
        sa.Column("working", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("node_id"),
    )
    op.create_index("ix_gateway_node_last_seen", "gateway_node", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_gateway_node_last_seen", table_name="gateway_node")
    op.drop_table("gateway_node")
    op.drop_column("message", "lease_until")
    op.drop_column("message", "lease_owner")
