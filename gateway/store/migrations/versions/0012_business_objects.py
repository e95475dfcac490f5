"""business objects: normalised business keys (the join of orders and shipments), business_object, sla_breach

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types
from gateway.business.keys import family, normalise

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = gateway.store.types.UTCDateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 5000


def _backfill() -> None:
    conn = op.get_bind()
    bk = sa.table("business_key", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                  sa.column("value", sa.String), sa.column("norm", sa.String))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(bk.c.id, bk.c.kind, bk.c.value).where(bk.c.id > last).order_by(bk.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        params = [{"i": r.id, "n": normalise(r.value)} for r in rows if family(r.kind) and normalise(r.value)]
        if params:
            conn.execute(sa.update(bk).where(bk.c.id == sa.bindparam("i")).values(norm=sa.bindparam("n")), params)
        last = rows[-1].id


def upgrade() -> None:
    # a plain ADD COLUMN on both backends (a batch copy on SQLite would drop the search triggers)
    op.add_column("business_key", sa.Column("norm", sa.String(length=128), nullable=True))
    _backfill()
    op.create_index("ix_business_key_norm", "business_key", ["norm"])
    op.create_table(
        "business_object",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("norm", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("first_at", UTC, nullable=False),
        sa.Column("last_at", UTC, nullable=False),
        sa.Column("breaches", sa.Integer(), nullable=False),
        sa.Column("check_due_at", UTC, nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "norm"),
    )
    op.create_index("ix_business_object_kind_last", "business_object", ["kind", "last_at"])
    op.create_index("ix_business_object_stage", "business_object", ["kind", "stage", "last_at"])
    op.create_index("ix_business_object_partner", "business_object", ["kind", "partner_id", "last_at"])
    op.create_index("ix_business_object_due", "business_object", ["check_due_at"])
    op.create_table(
        "sla_breach",
        sa.Column("id", ID, nullable=False),
        sa.Column("object_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=140), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detected_at", UTC, nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("announced_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["object_id"], ["business_object.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("object_id", "level"),
    )
    op.create_index("ix_sla_breach_message", "sla_breach", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_sla_breach_message", table_name="sla_breach")
    op.drop_table("sla_breach")
    for ix in ("ix_business_object_due", "ix_business_object_partner", "ix_business_object_stage",
               "ix_business_object_kind_last"):
        op.drop_index(ix, table_name="business_object")
    op.drop_table("business_object")
    op.drop_index("ix_business_key_norm", table_name="business_key")
    op.execute("ALTER TABLE business_key DROP COLUMN norm")  # SQLite 3.35+ and PostgreSQL
