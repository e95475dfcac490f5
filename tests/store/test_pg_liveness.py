"""Pooled PostgreSQL connections are checked on checkout without a round trip in steady use (gateway.store.db):
a connection the server ended (restart, ``pg_terminate_backend``) is replaced before it is used, whether it sat
idle a moment or long; a connection in steady use is not pinged."""

import time

import pytest
import sqlalchemy as sa

from gateway.store import db
from gateway.store.db import create_db_engine
from tests.support.postgres import ADMIN_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url):
    engine = create_db_engine(postgres_url, pool_size=3)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine, monkeypatch):
    """How often the pool pinged (the dialect's ``do_ping``, counted around the real one)."""
    count = [0]
    real = engine.dialect.do_ping

    def counted(conn):
        count[0] += 1
        return real(conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return count


def _pids(engine, n):
    """Check out ``n`` connections at once and return them to the pool: their backends' pids."""
    conns = [engine.connect() for _ in range(n)]
    pids = [c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() for c in conns]
    for c in conns:
        c.close()
    return pids


def _terminate(pids):
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        for pid in pids:
            c.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    admin.dispose()
    time.sleep(0.2)  # the FATAL message and the close reach the pooled sockets


def test_steady_use_sends_no_ping(engine, pings):
    _pids(engine, 2)
    for _ in range(20):
        with engine.begin() as c:
            c.execute(sa.text("SELECT 1"))
    assert pings[0] == 0


def test_connections_the_server_ended_are_replaced_on_checkout(engine, pings):
    old = _pids(engine, 3)
    _terminate(old)
    new = _pids(engine, 3)  # every one works: none of the dead ones was handed out
    assert not set(new) & set(old)
    assert pings[0] >= 1  # the dead one found (readable socket) was pinged, and the pool invalidated
    with engine.begin() as c:
        assert c.execute(sa.text("SELECT 2")).scalar_one() == 2


def test_a_connection_idle_long_is_pinged(engine, pings, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    _pids(engine, 1)
    with engine.connect() as c:
        c.execute(sa.text("SELECT 1"))
    assert pings[0] == 1
