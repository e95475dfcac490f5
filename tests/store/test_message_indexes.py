"""The message table's indexes after migration 0022: on SQLite the single-column indexes on direction and status
are gone and the queries that filtered on those columns use the composite indexes; PostgreSQL keeps them."""

import sqlalchemy as sa

from gateway.store.migrate import alembic_config, upgrade

SQLITE_DROPPED = {"ix_message_direction", "ix_message_status"}
KEPT = {"ix_message_direction_created", "ix_message_status_created", "ix_message_partner_created",
        "ix_message_partner_id"}


def _indexes(engine: sa.Engine) -> set[str]:
    return {i["name"] for i in sa.inspect(engine).get_indexes("message")}


def test_sqlite_drops_the_single_column_indexes_postgresql_keeps_them(store):
    names = _indexes(store.engine)
    assert names >= KEPT
    if store.engine.dialect.name == "sqlite":
        assert not SQLITE_DROPPED & names
    else:
        assert names >= SQLITE_DROPPED


def test_a_store_at_0021_loses_them_at_upgrade_and_gets_them_back_at_downgrade(store):
    from alembic import command

    cfg = alembic_config(store.engine)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0021")
    assert _indexes(store.engine) >= SQLITE_DROPPED
    upgrade(store.engine)
    after = _indexes(store.engine)
    assert (SQLITE_DROPPED & after) == (set() if store.engine.dialect.name == "sqlite" else SQLITE_DROPPED)


def _plan(engine: sa.Engine, sql: str, **params: str) -> str:
    with engine.connect() as c:
        return " | ".join(str(r[3]) for r in c.execute(sa.text("EXPLAIN QUERY PLAN " + sql), params))


def test_sqlite_filters_on_status_and_direction_use_the_composite_indexes(store):
    if store.engine.dialect.name != "sqlite":
        return  # PostgreSQL's plans depend on its statistics: bench/results/store3.txt
    e = store.engine
    assert "ix_message_status_created" in _plan(e, "SELECT count(*) FROM message WHERE status = :s", s="failed")
    assert "ix_message_direction_created" in _plan(e, "SELECT count(*) FROM message WHERE direction = :d", d="inbound")
    listing = _plan(e, "SELECT id FROM message WHERE status = :s ORDER BY created_at DESC, id DESC LIMIT 50", s="acked")
    assert "ix_message_status_created" in listing and "TEMP B-TREE" not in listing
