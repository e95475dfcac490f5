"""hand-off to internal systems: the ``handoff`` outbox and ``message.handoff_status``

Messages received before this revision are marked ``skipped`` so that upgrading does not hand off the whole
history; a replay (``POST /api/messages/{id}/handoff``) still releases any of them on request.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# ids and message ids are BIGINT on PostgreSQL, as migration 0004 made every other one (INTEGER on SQLite)
ID64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

UTC = gateway.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handoff_status", sa.String(length=16), nullable=True))
    op.execute("UPDATE message SET handoff_status = 'skipped' WHERE direction = 'inbound'")
    op.create_table(
        "handoff",
        sa.Column("id", ID64, primary_key=True),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("lane", sa.String(length=160), nullable=False),
        sa.Column("message_id", ID64, sa.ForeignKey("message.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("event_type", sa.String(length=48), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("set_id", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("delivered_at", UTC, nullable=True),
        sa.UniqueConstraint("event_id", "destination"),
    )
    op.create_index("ix_handoff_message_id", "handoff", ["message_id"])
    op.create_index("ix_handoff_status_due", "handoff", ["status", "due_at"])
    op.create_index("ix_handoff_lane", "handoff", ["lane", "status", "id"])
    op.create_index("ix_handoff_destination_status", "handoff", ["destination", "status", "id"])


def downgrade() -> None:
    op.drop_table("handoff")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("handoff_status")
