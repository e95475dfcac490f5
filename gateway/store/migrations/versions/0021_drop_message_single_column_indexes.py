"""message: the single-column indexes on direction, status and partner_id dropped (the composite ones serve them)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 17:30:00

``ix_message_direction``, ``ix_message_status`` and ``ix_message_partner_id`` lead with the same column as
``ix_message_direction_created``, ``ix_message_status_created`` and ``ix_message_partner_created``: every query
filtering on one of the three columns can use the composite index instead. Every message written and every status
change paid for them (three more b-tree entries per message, one more per status change; about a sixth of SQLite's
cost of inserting and updating a message). Reviewed query by query (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
PostgreSQL: ``bench/results/store3.txt``): the search and API queries (filters, counts, listings newest first,
worklist, statistics) already used the composite ones. On SQLite, a single-column index is ordered by id within a
value, which only served queries that walk every message of a direction or a status in id order (start-up
recovery, the hand-off reconcile job, due MDNs, unfinished outbound messages): they read the same rows through the
composite index and sort the few that match. PostgreSQL never used them for ``ORDER BY id``.
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

DROPPED = (
    ("ix_message_direction", "direction"),
    ("ix_message_status", "status"),
    ("ix_message_partner_id", "partner_id"),
)


def upgrade() -> None:
    for name, _column in DROPPED:
        op.execute(f"DROP INDEX IF EXISTS {name}")


def downgrade() -> None:
    for name, column in DROPPED:
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON message ({column})")
