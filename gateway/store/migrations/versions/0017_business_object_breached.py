"""business objects: a partial index for the listing of those that missed a service level

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-07 02:40:00

``GET /api/orders?breached=true`` (and ``/api/shipments``) counted and paged by reading every object of the kind;
the index holds only the objects with a breach (a few in a hundred), newest activity last, on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None

WHERE = sa.text("breaches > 0")


def upgrade() -> None:
    op.create_index("ix_business_object_breached", "business_object", ["kind", "last_at"],
                    postgresql_where=WHERE, sqlite_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_business_object_breached", table_name="business_object")
