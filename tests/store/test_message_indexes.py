"""The message table's indexes after migration 0021: the single-column indexes on direction, status and partner_id
are gone on both backends, and the queries that filtered on those columns use the composite indexes instead."""

import sqlalchemy as sa

from gateway.store.migrate import alembic_config, upgrade

DROPPED = {"ix_message_direction", "ix_message_status", "ix_message_partner_id"}
COMPOSITE = {"ix_message_direction_created", "ix_message_status_created", "ix_message_partner_created"}


def _indexes(engine: sa.Engine) -> set[str]:
    return {i["name"] for i in sa.inspect(engine).get_indexes("message")}


def test_the_single_column_indexes_are_dropped_and_the_composite_ones_kept(store):
    names = _indexes(store.engine)
    assert names >= COMPOSITE
    assert not DROPPED & names


def test_a_store_at_0020_loses_them_at_upgrade_and_gets_them_back_at_downgrade(store):
    from alembic import command

    cfg = alembic_config(store.engine)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0020")
    assert _indexes(store.engine) >= DROPPED
    upgrade(store.engine)
    assert not DROPPED & _indexes(store.engine)


def _plan(engine: sa.Engine, sql: str, **params: str) -> str:
    with engine.connect() as c:
        return " | ".join(str(r[3]) for r in c.execute(sa.text("EXPLAIN QUERY PLAN " + sql), params))


def test_sqlite_filters_on_status_direction_partner_use_the_composite_indexes(store):
    if store.engine.dialect.name != "sqlite":
        return  # PostgreSQL's plans depend on its statistics: bench/results/store3.txt
    e = store.engine
    assert "ix_message_status_created" in _plan(e, "SELECT count(*) FROM message WHERE status = :s", s="failed")
    assert "ix_message_direction_created" in _plan(
        e, "SELECT id FROM message WHERE direction = :d ORDER BY created_at DESC, id DESC LIMIT 50", d="inbound")
    assert "ix_message_partner_created" in _plan(e, "SELECT count(*) FROM message WHERE partner_id = :p", p="p1")
