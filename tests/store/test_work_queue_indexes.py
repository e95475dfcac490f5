"""Migration 0023: the periodic jobs read their pending work through two partial indexes, not the archive.

An archive of accepted, released inbound messages and sent outbound ones, with a few pending items of each kind:
the hand-off reconcile job, the inbound recovery and ``Store.unfinished`` find exactly the pending ones, and their
queries' plans (EXPLAIN; PostgreSQL after ANALYZE, SQLite without statistics, as the gateway runs) read the
partial indexes instead of walking the message table.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command

from gateway.as2.send import awaiting_async_mdn
from gateway.flows.recovery import unmapped_acked
from gateway.handoff.outbox import Outbox
from gateway.store.migrate import alembic_config, upgrade
from gateway.store.models import TERMINAL, UNFINISHED_STATUSES, Direction, Event, Message, MessageStatus

M = Message.__table__
E = Event.__table__
INDEXES = {"ix_message_unreleased", "ix_message_unfinished", "ix_message_as2_awaiting"}
OLD = datetime(2026, 1, 1, tzinfo=UTC)
ARCHIVED = 3000


def _row(mid: int, direction: str, status: str, handoff: str | None, at: datetime = OLD, key: str = "k") -> dict:
    return {"id": mid, "direction": direction, "status": status, "partner_id": "acme", "idempotency_key": f"{key}{mid}",
            "document_format": "x12", "set_ids": "856", "size": 1, "sha256": f"{mid:064x}", "archive_key": f"a/{mid}",
            "handoff_status": handoff, "created_at": at, "updated_at": at}


def _seed(engine: sa.Engine) -> dict[str, set[int]]:
    """The archive, then the pending work: {kind: message ids}."""
    rows, events = [], []
    for mid in range(1, ARCHIVED + 1):
        if mid % 3 == 0:
            rows.append(_row(mid, "outbound", "sent", None))
        elif mid % 40 == 1:
            rows.append(_row(mid, "inbound", "failed", None))
        else:
            rows.append(_row(mid, "inbound", "acked", "delivered" if mid % 5 else "skipped"))
            events.append({"message_id": mid, "name": "mapping.done", "at": OLD, "actor": "gateway"})
    pending: dict[str, set[int]] = {"unreleased": set(), "unmapped": set(), "in": set(), "out": set(), "as2": set()}
    recent = datetime.now(UTC) - timedelta(minutes=10)
    mid = ARCHIVED
    for _n in range(5):
        for kind, direction, status in (("unreleased", "inbound", "acked"), ("unmapped", "inbound", "acked"),
                                        ("in", "inbound", "processing"), ("out", "outbound", "retrying")):
            mid += 1
            rows.append(_row(mid, direction, status, None, recent))
            pending[kind].add(mid)
            if kind == "unreleased":
                events.append({"message_id": mid, "name": "mapping.done", "at": recent, "actor": "gateway"})
        mid += 1
        rows.append(_row(mid, "outbound", "sent", None, recent, key="as2-out:them:"))  # As2Sender's, MDN awaited
        pending["as2"].add(mid)
    rows.append(_row(mid + 1, "outbound", "delivered", None, recent, key="as2-out:them:"))  # its MDN came
    # released without a mapping event (a mapping with no set to map writes none): not the recovery's to map
    rows.append(_row(mid + 2, "inbound", "acked", "skipped", recent))
    with engine.begin() as conn:
        conn.execute(sa.insert(M), rows)
        conn.execute(sa.insert(E), events)
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE message"))
            conn.execute(sa.text("ANALYZE event"))
    return pending


def _statements(engine: sa.Engine, run) -> tuple[object, list[tuple[str, object]]]:
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, params, context, executemany):
        seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        result = run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    return result, seen


def _plan(engine: sa.Engine, statement: str, params: object) -> str:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, params).all()
    return " | ".join(str(r[3] if engine.dialect.name == "sqlite" else r[0]) for r in rows)


def _only_the_index(engine: sa.Engine, plan: str, index: str) -> None:
    assert index in plan, plan
    if engine.dialect.name == "sqlite":
        assert "SCAN message" not in plan, plan  # no walk of the table nor of another index over it
    else:
        assert "Seq Scan on message" not in plan and "message_pkey" not in plan, plan
        assert "Seq Scan on event" not in plan, plan


def test_the_jobs_find_exactly_their_pending_work_through_the_partial_indexes(store):
    engine = store.engine
    pending = _seed(engine)
    found, seen = _statements(engine, lambda: Outbox(engine).unreleased(before=datetime.now(UTC)))
    assert set(found) == pending["unreleased"] | pending["unmapped"]
    _only_the_index(engine, _plan(engine, *seen[-1]), "ix_message_unreleased")

    found, seen = _statements(engine, lambda: unmapped_acked(store))
    assert {m.id for m in found} == pending["unmapped"]  # not the one released without a mapping event
    _only_the_index(engine, _plan(engine, *seen[-1]), "ix_message_unreleased")

    for direction, kind in ((Direction.inbound, "in"), (Direction.outbound, "out")):
        found, seen = _statements(engine, lambda d=direction: store.unfinished(d))
        assert {m.id for m in found} == pending[kind]
        _only_the_index(engine, _plan(engine, *seen[-1]), "ix_message_unfinished")

    found, seen = _statements(engine, lambda: awaiting_async_mdn(store))  # as2.mdn_overdue's, not every one sent
    assert {m.id for m in found} == pending["as2"]
    _only_the_index(engine, _plan(engine, *seen[-1]), "ix_message_as2_awaiting")


def test_unfinished_statuses_are_every_status_not_final():
    assert set(UNFINISHED_STATUSES) == {s.value for s in MessageStatus} - {s.value for s in TERMINAL}
    assert MessageStatus.processing.value in UNFINISHED_STATUSES and MessageStatus.acked not in UNFINISHED_STATUSES


def _indexes(engine: sa.Engine) -> set[str]:
    return {i["name"] for i in sa.inspect(engine).get_indexes("message")}


def _statistics(engine: sa.Engine) -> set[str]:
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        return set(conn.execute(sa.text("SELECT stxname FROM pg_statistic_ext")).scalars())


def test_0023_goes_down_and_up_again(store):
    engine = store.engine
    assert _indexes(engine) >= INDEXES
    pg = engine.dialect.name == "postgresql"
    assert ("st_message_work" in _statistics(engine)) == pg
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0022")
    assert not INDEXES & _indexes(engine)
    assert "st_message_work" not in _statistics(engine)
    upgrade(engine)
    assert _indexes(engine) >= INDEXES
    assert ("st_message_work" in _statistics(engine)) == pg
