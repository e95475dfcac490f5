"""message (SQLite): the single-column indexes on status and direction dropped (the composite ones serve them)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 17:40:00

``ix_message_status`` and ``ix_message_direction`` lead with the same column as ``ix_message_status_created`` and
``ix_message_direction_created``. Every message written and every status change paid for them: about a sixth of
SQLite's cost of inserting a message and moving it through its statuses. Reviewed query by query (EXPLAIN QUERY PLAN,
``bench/results/store3.txt``): SQLite's planner already took the composite indexes for every search and API query
(filters, counts, listings newest first, worklist, statistics). A single-column index is in id order within a
value, which served only the background queries that walk every message of a direction or a status in id order
(start-up recovery, the hand-off reconcile job, due MDNs, unfinished outbound messages): they read the same rows
through the composite index (or the table, with statistics) and sort the few that match.

PostgreSQL keeps both, and both backends keep ``ix_message_partner_id``: PostgreSQL's de-duplicated single-column
b-tree makes a count by direction or status (the API's total for a filtered list) read 64 pages instead of 491 for
66,000 inbound messages, and SQLite counts a partner's messages through ``ix_message_partner_id``, half the size of
``ix_message_partner_created``.
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

DROPPED = (("ix_message_status", "status"), ("ix_message_direction", "direction"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, _column in DROPPED:
            op.execute(f"DROP INDEX IF EXISTS {name}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, column in DROPPED:
            op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON message ({column})")
