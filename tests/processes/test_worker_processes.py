"""Inbound worker processes (``inbound_processes``, gateway/processes): real ``gateway serve`` processes on SQLite
and PostgreSQL, real files. The parent and its worker share each burst; every file is processed exactly once (one
message, one 997, one mapping), also when the worker is killed with SIGKILL in the middle of a burst; a worker
exits when its parent is killed, and stops with it on SIGTERM."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.nodes_shared.support import order_940, rows
from tests.support.gateway_home import REPO, make_home, wait_for
from tests.support.postgres import reachable, scratch_database
from tests.support.serve import ServeProcess

PARTNER = "acme-retail"
ONCE = ("message.received", "message.archived", "ack.generated", "message.acked", "mapping.done")


@contextmanager
def database(kind: str, home: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'var' / 'gateway.db'}"
        return
    reason = reachable()
    if reason:
        pytest.skip(reason)
    with scratch_database("gw_procs") as url:
        yield url


def env(url: str, **extra: str) -> dict[str, str]:
    return {"GATEWAY_DATABASE_URL": url, "GATEWAY_INBOUND_PROCESSES": "2",
            "GATEWAY_MAPPINGS_DIR": str(REPO / "mappings"),
            "GATEWAY_FOLDER__MIN_AGE_SECONDS": "0.3", "GATEWAY_FOLDER__SWEEP_SECONDS": "1",
            "GATEWAY_NODE_HEARTBEAT_SECONDS": "1", **extra}


def inbox(home: Path) -> Path:
    return home / "var" / "channels" / PARTNER / "inbound"


def drop(home: Path, start: int, count: int) -> None:
    folder = inbox(home)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(start, start + count):
        tmp = folder / f".order-{n:04d}.x12.part"
        tmp.write_bytes(order_940(n))
        tmp.rename(folder / f"order-{n:04d}.x12")


def live_nodes(url: str) -> dict[str, int]:
    return {node: pid for node, pid in rows(url, "SELECT node_id, pid FROM gateway_node WHERE stopped_at IS NULL")}


def worker(url: str, parent_pid: int) -> tuple[str, int]:
    """The live worker's node id and pid (registered once it has started)."""
    def found() -> tuple[str, int] | None:
        return next(((n, p) for n, p in live_nodes(url).items() if p != parent_pid), None)

    return wait_for(found, timeout=60, interval=0.2)


def done(url: str) -> int:
    (n,), = rows(url, """SELECT count(*) FROM message m WHERE direction='inbound' AND status='acked' AND EXISTS
                         (SELECT 1 FROM event e WHERE e.message_id=m.id AND e.name='mapping.done')""")
    return int(n)


def recorded_by(url: str, node: str) -> int:
    """Inbound messages leased to ``node`` now: recorded by it, not finished."""
    (n,), = rows(url, "SELECT count(*) FROM message WHERE direction='inbound' AND lease_owner=:n", n=node)
    return int(n)


def exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie (its parent, the serve process, has not reaped it yet) has exited too
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def assert_exactly_once(url: str, home: Path, files: int) -> None:
    inbound = rows(url, "SELECT id, file_name, status FROM message WHERE direction='inbound'")
    assert Counter(r[1] for r in inbound) == {f"order-{n:04d}.x12": 1 for n in range(files)}
    assert {r[2] for r in inbound} == {"acked"}
    links = rows(url, "SELECT message_id, kind FROM ack_link")
    assert sorted(r[0] for r in links) == sorted(r[0] for r in inbound) and {r[1] for r in links} == {"997"}
    acks = rows(url, "SELECT id FROM message WHERE direction='outbound'")
    assert len(acks) == files
    per = Counter((m, name) for m, name in rows(url, "SELECT message_id, name FROM event"))
    twice = [(m, name, per[(m, name)]) for m, _f, _s in inbound for name in ONCE if per[(m, name)] != 1]
    assert not twice, twice[:10]
    assert not list((inbox(home) / ".claimed").glob("*/*.x12"))
    assert len(list((inbox(home) / "processed").glob("*.x12"))) == files
    isa13 = [p.read_text().split("*")[13] for p in (home / "var" / "channels" / PARTNER / "outbound").glob("*.x12")]
    assert len(isa13) == files and len(set(isa13)) == files


def archived_by(log: str) -> Counter[str]:
    """``message.archived`` lines of the log, by process: "worker" or "parent"."""
    return Counter("worker" if '"worker": ' in line else "parent"
                   for line in log.splitlines() if '"event": "message.archived"' in line)


def test_workers_start_and_stop_with_serve(tmp_path):
    home = make_home(tmp_path / "home")
    with database("sqlite", home) as url:
        serve = ServeProcess(home, env=env(url))
        try:
            serve.wait_healthy(timeout=60)
            node, pid = worker(url, serve.proc.pid)
            assert node.endswith("-w1") and pid != serve.proc.pid
            serve.proc.send_signal(signal.SIGTERM)
            assert serve.wait_exit(timeout=40) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it caught
            wait_for(lambda: exited(pid), timeout=5)
        finally:
            serve.stop()
        stopped = dict(rows(url, "SELECT node_id, stopped_at FROM gateway_node"))
        assert stopped[node] is not None and all(stopped.values())  # both recorded a clean stop


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_burst_shared_by_parent_and_worker_processed_exactly_once(tmp_path, kind):
    files = 200
    home = make_home(tmp_path / "home")
    with database(kind, home) as url:
        serve = ServeProcess(home, env=env(url))
        try:
            serve.wait_healthy(timeout=60)
            worker(url, serve.proc.pid)
            drop(home, 0, files)
            wait_for(lambda: done(url) >= files, timeout=120, interval=0.5)
            time.sleep(1.0)  # nothing more arrives (no second message for a file)
        finally:
            serve.stop()
        assert_exactly_once(url, home, files)
        split = archived_by(serve.log.read_text())
        assert split["worker"] > 0 and split["parent"] > 0 and sum(split.values()) == files, split
        assert "database is locked" not in serve.log.read_text()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_worker_killed_mid_burst_nothing_lost_or_doubled(tmp_path, kind):
    files = 400
    home = make_home(tmp_path / "home")
    with database(kind, home) as url:
        serve = ServeProcess(home, env=env(url))
        try:
            serve.wait_healthy(timeout=60)
            node, pid = worker(url, serve.proc.pid)
            drop(home, 0, files)
            working = inbox(home) / ".claimed" / node
            # killed while it holds files: some claimed and not finished, some recorded (archived, leased)
            wait_for(lambda: len(list(working.glob("*.x12"))) >= 10 and recorded_by(url, node) > 0, timeout=60,
                     interval=0.02)
            os.kill(pid, signal.SIGKILL)  # no clean stop: its claims and leases stay behind
            first = done(url)
            left = len(list(working.glob("*.x12")))
            # the parent restarts it under a fresh node id and takes the dead one's work over
            successor = wait_for(lambda: next((n for n in live_nodes(url) if n.startswith(node + ".")), None),
                                 timeout=60)
            wait_for(lambda: done(url) >= files, timeout=150, interval=0.5)
            time.sleep(1.0)
        finally:
            serve.stop()
        assert first < files and left > 0, "the worker had nothing in hand when killed: the test proves nothing"
        assert '"event": "folder.claims_taken_over"' in serve.log.read_text()
        assert successor == f"{node}.1"
        assert_exactly_once(url, home, files)
        (stopped,), = rows(url, "SELECT stopped_at FROM gateway_node WHERE node_id=:n", n=node)
        assert stopped is not None  # recorded as stopped at once by the parent


def test_parent_killed_worker_exits(tmp_path):
    home = make_home(tmp_path / "home")
    with database("sqlite", home) as url:
        serve = ServeProcess(home, env=env(url))
        try:
            serve.wait_healthy(timeout=60)
            _node, pid = worker(url, serve.proc.pid)
            serve.proc.kill()
            serve.proc.wait()
            wait_for(lambda: exited(pid), timeout=30, interval=0.2)
        finally:
            serve.stop()
            if not exited(pid):
                os.kill(pid, signal.SIGKILL)
