"""AS2 transmissions: each AS2 message built for an outbound message, its archived request, the options it was
built with and where its MDN stands (see gateway.as2.outbound)

Revision ID: 0006
Revises: 0004 (main's head when this was written; re-chain at merge)
Create Date: 2026-12-06 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

# ids and message ids are BIGINT on PostgreSQL, as migration 0004 made every other one (INTEGER on SQLite)
ID64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

UTC = gateway.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "as2_transmission",
        sa.Column("id", ID64, primary_key=True),
        sa.Column("message_id", ID64, sa.ForeignKey("message.id"), nullable=True),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("delivery_key", sa.String(length=300), nullable=False),
        sa.Column("as2_message_id", sa.String(length=255), nullable=False),
        sa.Column("request_archive_key", sa.String(length=64), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("mdn_due_at", UTC, nullable=True),
        sa.Column("mdn_message_id", ID64, sa.ForeignKey("message.id"), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.UniqueConstraint("as2_message_id", name="uq_as2_transmission_as2_message_id"),
    )
    op.create_index("ix_as2_transmission_message_id", "as2_transmission", ["message_id"])
    op.create_index("ix_as2_transmission_delivery_key", "as2_transmission", ["delivery_key"])
    op.create_index("ix_as2_transmission_state_due", "as2_transmission", ["state", "mdn_due_at"])


def downgrade() -> None:
    op.drop_index("ix_as2_transmission_state_due", table_name="as2_transmission")
    op.drop_index("ix_as2_transmission_delivery_key", table_name="as2_transmission")
    op.drop_index("ix_as2_transmission_message_id", table_name="as2_transmission")
    op.drop_table("as2_transmission")
