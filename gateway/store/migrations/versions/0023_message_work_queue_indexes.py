"""message: two partial indexes holding only the background jobs' pending work (unreleased, unfinished messages)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 20:10:00

The periodic jobs looked for their few pending messages by walking every message of a direction or a status, a
cost growing with the archive and paid on every run (100,000 messages, bench/results/reconidx.txt):

* ``ix_message_unreleased`` (direction, status, id) over inbound messages whose ``handoff_status`` is NULL: the hand-off
  reconcile job (every minute: accepted messages a crash left unreleased) and the inbound recovery's look for
  acked messages never mapped (every 15 s). A message leaves it when it is released or marked; what stays is the
  work plus the inbound messages never accepted (failed, quarantined, duplicate), which the status skips. Its
  first column is fixed by the condition, but without it SQLite (no statistics) took ``ix_message_direction_created``
  instead (one key column matched against two).
* ``ix_message_unfinished`` (direction, id) over messages in a non-final status: ``Store.unfinished``, read by
  the inbound recovery (every 15 s), the documents' recovery (15 s) and the delivery retry sweep (10 s).
* ``ix_message_as2_awaiting`` over As2Sender's messages (idempotency key ``as2-out:...``) sent and awaiting an
  asynchronous MDN: its ``as2.mdn_overdue`` job (every minute with AS2 configured) read every message ``sent``,
  which is every outbound document a folder, SFTP or webhook channel delivered (1.8 s at 100,000 messages).

PostgreSQL also gets statistics on (direction, status, handoff_status) together: its per-column statistics made
the few inbound, accepted, unreleased messages look like 15% of the table (NULL hand-off status is every outbound
message), so it walked the primary key in id order to find 200 of them soon (70 ms, every row) instead of the
index (0.3 ms), and joined every mapping event by hash. The migration analyses the table once to fill them, when
it has rows: ANALYZE of an empty table (a new database) records it as analysed and empty, and from then on the
planner sizes it by its pages alone until autovacuum analyses it again (a minute or more). The foreign-key checks
of every event, lineage and ack row (a cached ``SELECT ... FOR KEY SHARE`` plan in each connection) were then
planned as sequential scans of the nearly empty table and kept that plan while it grew: a new gateway's PostgreSQL
backends spent about half their CPU walking ``message`` during its first minute (bench/results/pgsmall.txt). A
table never analysed is assumed to be at least 10 pages, which plans those lookups on the primary key.

A query uses a partial index only when its WHERE repeats the index's condition; the queries write the values as
literals (``gateway.store.models``), as here. The status list is the non-final statuses of this revision: one
added later needs its own migration (tests/store/test_work_queue_indexes.py checks that the plans use them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

UNRELEASED = sa.text("handoff_status IS NULL AND direction = 'inbound'")
AS2_AWAITING = sa.text("status = 'sent' AND idempotency_key LIKE 'as2-out:%'")
UNFINISHED = sa.text("status IN ('received', 'archived', 'processing', 'queued', 'sending', 'retrying', "
                     "'mdn_overdue')")


INDEXES = (
    ("ix_message_unreleased", ["direction", "status", "id"], UNRELEASED),
    ("ix_message_unfinished", ["direction", "id"], UNFINISHED),
    ("ix_message_as2_awaiting", ["direction", "status"], AS2_AWAITING),
)


def upgrade() -> None:
    for name, columns, where in INDEXES:  # IF NOT EXISTS: applied again over itself, it changes nothing
        op.create_index(name, "message", columns, postgresql_where=where, sqlite_where=where, if_not_exists=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE STATISTICS IF NOT EXISTS st_message_work (mcv) ON direction, status, handoff_status "
                   "FROM message")
        if op.get_bind().execute(sa.text("SELECT EXISTS (SELECT 1 FROM message)")).scalar():
            op.execute("ANALYZE message")  # not an empty table: see the module's docstring


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_message_work")
    for name, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name="message", if_exists=True)
