"""outbound document statuses: validation, delivery and acknowledgement, and when an acknowledgement is due

The three statuses follow the vocabulary of the product (after Orderful and IBM Sterling):
validation ``valid``/``invalid``; delivery ``pending``/``sent``/``delivered``/``failed``/``dead``;
acknowledgement ``not_expected``/``waiting``/``accepted``/``accepted_with_errors``/``rejected``/
``partially_accepted``/``overdue``. ``ack_due_at`` is when the partner's functional acknowledgement becomes overdue.
They are NULL for messages they do not apply to (inbound messages, or rows written before this revision).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC = gateway.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("validation_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("delivery_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("ack_status", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("ack_due_at", UTC, nullable=True))
        batch_op.create_index("ix_message_ack_status_due", ["ack_status", "ack_due_at"])
        batch_op.create_index("ix_message_delivery_status", ["delivery_status"])


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_delivery_status")
        batch_op.drop_index("ix_message_ack_status_due")
        batch_op.drop_column("ack_due_at")
        batch_op.drop_column("ack_status")
        batch_op.drop_column("delivery_status")
        batch_op.drop_column("validation_status")
