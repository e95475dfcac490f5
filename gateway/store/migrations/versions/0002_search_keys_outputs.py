"""business keys and free-text search, delivery attempts, outputs, API keys, archive purge marks

SQLite: an FTS5 table (trigram tokenizer: substring matching for partial reference numbers) over
``business_key.value``, an external-content index kept in step by triggers. PostgreSQL: a pg_trgm GIN index
(substring ``ILIKE``) and a full-text GIN index on the same column.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = gateway.store.types.UTCDateTime(timezone=True)

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE business_key_fts USING fts5("
    "value, content='business_key', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER business_key_ai AFTER INSERT ON business_key BEGIN "
    "INSERT INTO business_key_fts(rowid, value) VALUES (new.id, new.value); END",
    "CREATE TRIGGER business_key_ad AFTER DELETE ON business_key BEGIN "
    "INSERT INTO business_key_fts(business_key_fts, rowid, value) VALUES ('delete', old.id, old.value); END",
    "CREATE TRIGGER business_key_au AFTER UPDATE ON business_key BEGIN "
    "INSERT INTO business_key_fts(business_key_fts, rowid, value) VALUES ('delete', old.id, old.value); "
    "INSERT INTO business_key_fts(rowid, value) VALUES (new.id, new.value); END",
]

POSTGRES_SEARCH = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_business_key_value_trgm ON business_key USING gin (value gin_trgm_ops)",
    "CREATE INDEX ix_business_key_value_fts ON business_key USING gin (to_tsvector('simple', value))",
]


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", UTC, nullable=True))

    op.create_table(
        "business_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("message.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "kind", "value"),
    )
    # lookups by message_id use the unique constraint's index
    op.create_index("ix_business_key_value", "business_key", ["value"])

    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("message.id"), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("transport_id", sa.String(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_delivery_attempt_message_id", "delivery_attempt", ["message_id"])

    op.create_table(
        "output",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("message.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("archive_key", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=True),
        sa.Column("file_name", sa.String(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("purged_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_output_message_id", "output", ["message_id"])

    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("key_hash"),
    )

    # search: transport ids (AS2 Message-ID, remote path) and newest-first listings per direction/status
    op.create_index("ix_message_direction_created", "message", ["direction", "created_at"])
    op.create_index("ix_message_status_created", "message", ["status", "created_at"])

    dialect = op.get_bind().dialect.name
    for stmt in SQLITE_FTS if dialect == "sqlite" else POSTGRES_SEARCH if dialect == "postgresql" else []:
        op.execute(stmt)
    # file names are searchable like business keys
    op.execute(
        "INSERT INTO business_key (message_id, kind, value) "
        "SELECT id, 'file', substr(file_name, 1, 128) FROM message WHERE file_name IS NOT NULL"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("business_key_ai", "business_key_ad", "business_key_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS business_key_fts")
    op.drop_index("ix_message_status_created", "message")
    op.drop_index("ix_message_direction_created", "message")
    op.drop_table("api_key")
    op.drop_table("output")
    op.drop_table("delivery_attempt")
    op.drop_table("business_key")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
