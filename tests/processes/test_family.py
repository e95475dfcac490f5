"""The store side of inbound worker processes: a node's family in the registry, and SQLite's busy writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, text

from gateway.errors import StoreError
from gateway.processes.supervisor import worker_node
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from gateway.store.nodes import NodeRegistry
from gateway.store.types import utcnow


def registry(url: str, node: str, family: str | None, clock):  # type: ignore[no-untyped-def]
    engine = create_db_engine(url)
    upgrade(engine)
    return NodeRegistry(engine, heartbeat=timedelta(seconds=1), node=node, family=family, clock=clock)


def test_a_worker_late_with_its_heartbeat_is_gone_to_strangers_only_once_stopped_to_its_family(tmp_path):
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    now = [utcnow()]
    clock = lambda: now[0]  # noqa: E731
    parent = registry(url, "gw-1", "gw-1", clock)
    worker = registry(url, worker_node("gw-1", 1, 0), "gw-1", clock)
    stranger = registry(url, "gw-2", None, clock)
    for r in (parent, worker, stranger):
        r.register()
    now[0] += timedelta(seconds=10)  # no heartbeat for ten periods: a SQLite write lock held that long
    parent.beat()
    assert parent.gone_ids() == {"gw-2"}  # its worker is alive as long as its process runs
    assert worker.gone_ids() == {"gw-2"}
    assert stranger.gone_ids() == {"gw-1-w1"}
    assert parent.mark_stopped(["gw-1-w1"]) == 1  # the parent saw the worker's process exit
    assert parent.gone_ids() == {"gw-2", "gw-1-w1"}


def test_retire_others_marks_every_other_node_stopped(tmp_path):
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    a = registry(url, "old", None, utcnow)
    a.register()
    b = registry(url, "new", "new", a.clock)
    b.register()
    assert b.gone_ids() == set()
    assert b.retire_others() == 1
    assert b.gone_ids() == {"old"}


def test_worker_node_ids_fit_and_are_never_reused():
    long = "h" * 64
    ids = {worker_node(long, slot, gen) for slot in (1, 2) for gen in range(12)}
    assert len(ids) == 24 and all(len(i) <= 64 for i in ids)
    assert worker_node("gw-1", 2, 0) == "gw-1-w2" and worker_node("gw-1", 2, 3) == "gw-1-w2.3"
    kin = NodeRegistry(create_db_engine("sqlite://"), node=long, family=long)
    assert all(kin.kin(i) for i in ids) and not kin.kin("h" * 30)


def test_a_sqlite_write_locked_past_the_busy_timeout_is_a_store_error(tmp_path):
    """Not a defect (which fails the message): the store being away, which leaves the file for the next poll."""
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    holder, waiter = create_db_engine(url), create_db_engine(url)
    event.listen(waiter, "connect", lambda conn, _rec: conn.execute("PRAGMA busy_timeout=200"))
    with holder.begin() as c:
        c.execute(text("CREATE TABLE t (x INTEGER)"))
    with holder.begin() as c:
        c.execute(text("INSERT INTO t VALUES (1)"))  # the write lock, held
        with pytest.raises(StoreError, match="locked by another writer"), waiter.begin() as w:
            w.execute(text("INSERT INTO t VALUES (2)"))
    with waiter.begin() as w:  # once the lock is free, the same write goes through
        w.execute(text("INSERT INTO t VALUES (2)"))
    holder.dispose()
    waiter.dispose()
