"""Migrations 0023 and 0024 on a new database.

0024: on PostgreSQL the rows every file writes (events, lineage, ack links, delivery attempts, outputs, hand-off rows)
have no foreign keys (a trigger per inserted row); SQLite keeps its own. The store still writes them only for the
messages it holds, and reads them back through their message.

0023 on an empty database does not ANALYZE ``message``: an empty table recorded as analysed made each connection's
foreign-key checks cache a sequential scan of ``message`` while it grew.
"""

import sqlalchemy as sa
from alembic import command

from gateway.store.batch import Batch
from gateway.store.migrate import alembic_config, upgrade
from gateway.store.models import Direction, MessageStatus
from gateway.store.repository import NewMessage

DROPPED = {
    ("event", "message"), ("interchange", "message"), ("functional_group", "interchange"),
    ("functional_group", "message"), ("transaction_set", "functional_group"), ("transaction_set", "message"),
    ("ack_link", "message"), ("delivery_attempt", "message"), ("output", "message"), ("handoff", "message"),
}


def _foreign_keys(engine: sa.Engine) -> set[tuple[str, str]]:
    inspector = sa.inspect(engine)
    return {(table, fk["referred_table"]) for table in {t for t, _p in DROPPED}
            for fk in inspector.get_foreign_keys(table)}


def _message(store, n: int) -> int:
    fields = dict(direction=Direction.inbound, status=MessageStatus.archived, partner_id="acme",
                  idempotency_key=f"fk-{n}", sha256=f"{n:064x}", size=1, archive_key=f"{n:064x}")
    (msg,) = store.create_messages([NewMessage(fields, [("message.received", MessageStatus.received, None)])])
    return msg.id


def test_postgresql_drops_the_per_file_foreign_keys_sqlite_keeps_them(store):
    found = _foreign_keys(store.engine)
    if store.engine.dialect.name == "postgresql":
        assert not found & DROPPED
    else:
        assert found >= DROPPED
    a, b = _message(store, 1), _message(store, 2)
    store.apply(Batch().event(a, "envelope.read").ack_link(message_id=a, ack_message_id=b, kind="997", result="A"))
    assert [e.name for e in store.events(a)][-1] == "envelope.read"


def test_0024_goes_down_and_up_again(store):
    engine = store.engine
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0023")
    assert _foreign_keys(engine) >= DROPPED
    upgrade(engine)
    upgrade(engine)  # at head already: nothing to do
    after = _foreign_keys(engine)
    if engine.dialect.name == "postgresql":
        assert not after & DROPPED
    else:
        assert after >= DROPPED


def test_a_new_postgresql_database_leaves_message_unanalysed(store):
    """reltuples -1: never analysed, so the planner assumes at least 10 pages and looks a message up by its key."""
    if store.engine.dialect.name != "postgresql":
        return
    with store.engine.connect() as conn:
        reltuples = conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = 'message'::regclass")).scalar()
        assert reltuples == -1
        plan = " ".join(r[0] for r in conn.execute(sa.text("EXPLAIN SELECT 1 FROM message WHERE id = 1")))
    assert "message_pkey" in plan
