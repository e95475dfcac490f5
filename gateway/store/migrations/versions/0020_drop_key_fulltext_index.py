"""business keys: PostgreSQL's full-text GIN index dropped (the trigram index serves search)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 11:15:00

Search terms are single words (the free text is split on whitespace): a word equal to a key matches it exactly, any
other of 3+ characters inside keys, case-insensitively (docs/api.md), which the ``pg_trgm`` index serves as it is
(``ILIKE '%term%'``), and SQLite does the same with its trigram index alone. The full-text index
(``to_tsvector('simple', value)``) only added matches of a word's parts split at punctuation, which SQLite never
gave, and cost every key written a second GIN entry set: 0.4 of 3.7 s of PostgreSQL CPU for a 10,000-set
interchange's 140,000 keys (bench/results/pgpath.txt). SQLite: nothing to do.
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_business_key_value_fts")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_business_key_value_fts ON business_key USING gin (to_tsvector('simple', value))")
