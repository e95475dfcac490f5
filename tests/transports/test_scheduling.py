"""Scheduled polling: one job per channel, replaced on reload; with two real gateway processes sharing PostgreSQL
and one SFTP server, each file is picked up by exactly one of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict

import pytest

from gateway.flows.channel_jobs import ChannelJob, ChannelJobs
from gateway.scheduler import Scheduler
from gateway.store.db import create_db_engine
from gateway.store.locks import ChannelLocks, lock_key
from gateway.store.migrate import upgrade
from gateway.store.models import Direction
from gateway.store.repository import Store
from gateway.transports.memory import MemoryInbound, MemoryServer
from tests.support.gateway_home import make_home
from tests.support.postgres import reset_schema
from tests.transports.sftp_support import SftpHarness

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Flow:
    def __init__(self) -> None:
        self.received: list[str] = []

    def receive(self, item):
        self.received.append(item.name)
        item.ack(None)


def test_one_job_per_channel_updated_on_reload():
    sched = Scheduler()
    server = MemoryServer()
    jobs = ChannelJobs(sched, _Flow(), ChannelLocks(create_db_engine("sqlite://")))
    a = ChannelJob(MemoryInbound(server, channel="p/a"), 60, signature=("a", 1))
    b = ChannelJob(MemoryInbound(server, channel="p/b"), 60, signature=("b", 1))
    assert jobs.sync({"p/a": a, "p/b": b}) == {"added": ["p/a", "p/b"], "replaced": [], "removed": []}
    assert sorted(sched.job_ids()) == ["poll:p/a", "poll:p/b"]
    same_a = ChannelJob(MemoryInbound(server, channel="p/a"), 60, signature=("a", 1))
    changed_b = ChannelJob(MemoryInbound(server, channel="p/b"), 30, signature=("b", 1))
    assert jobs.sync({"p/a": same_a, "p/b": changed_b}) == {"added": [], "replaced": ["p/b"], "removed": []}
    assert jobs.sync({"p/b": changed_b}) == {"added": [], "replaced": [], "removed": ["p/a"]}
    assert sched.job_ids() == ["poll:p/b"]


def test_scheduled_poll_takes_items_through_the_flow():
    sched = Scheduler()
    server = MemoryServer()
    flow = _Flow()
    jobs = ChannelJobs(sched, flow, ChannelLocks(create_db_engine("sqlite://")))
    server.drop("a.x12", b"ISA~")
    jobs.sync({"p/a": ChannelJob(MemoryInbound(server, channel="p/a"), 0.1)})
    sched.start()
    try:
        deadline = time.monotonic() + 5
        while not flow.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sched.stop()
    assert flow.received == ["a.x12"] and server.processed == {"a.x12": b"ISA~"}


@pytest.mark.postgres
def test_advisory_lock_is_exclusive_across_connections(postgres_url):
    reset_schema(postgres_url)
    one, two = ChannelLocks(create_db_engine(postgres_url)), ChannelLocks(create_db_engine(postgres_url))
    try:
        _exclusive(one, two)
    finally:
        one.engine.dispose()
        two.engine.dispose()
    assert lock_key("p/sftp") == lock_key("p/sftp") != lock_key("p/other")


def _exclusive(one: ChannelLocks, two: ChannelLocks) -> None:
    with one.hold("p/sftp") as a:
        assert a is True
        with two.hold("p/sftp") as b, two.hold("p/other") as c:
            assert b is False and c is True
    with two.hold("p/sftp") as b:
        assert b is True


def _run_two(tmp_path, postgres_url, sshd_server, corpus, *, lock: bool):
    reset_schema(postgres_url)
    engine = create_db_engine(postgres_url)
    upgrade(engine)
    h = SftpHarness(sshd_server, min_age_seconds=0)
    doc = (corpus / "940" / "x12types-940-generalmills-new.edi").read_bytes()
    names = {f"order-{n:02d}.edi" for n in range(20)}
    for name in names:
        h.drop(name, doc)
    home = make_home(tmp_path / "home")
    picks = tmp_path / "picks.txt"
    base = {
        "home": str(home),
        "database_url": postgres_url,
        "archive_dir": str(tmp_path / "archive"),
        "sftp": asdict(h.settings),
        "channel": "acme-retail/sftp",
        "start_at": time.time() + 4,
        "run_seconds": 4,
        "picks": str(picks),
        "lock": lock,
    }
    procs = []
    for n in (1, 2):
        cfg = tmp_path / f"worker{n}.json"
        cfg.write_text(json.dumps({**base, "data_dir": str(tmp_path / f"node{n}")}))
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.transports.poll_worker", str(cfg)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0, out.decode(errors="replace")[-3000:]
    lines = [line.split() for line in picks.read_text().splitlines()]
    store = Store(engine)
    msgs = store.list_messages(limit=500, direction=Direction.inbound).items
    engine.dispose()
    return h, names, lines, msgs


@pytest.mark.postgres
@pytest.mark.sftp
@pytest.mark.slow
def test_two_processes_on_one_postgres_never_pick_up_a_file_twice(tmp_path, postgres_url, sshd_server, corpus):
    h, names, lines, msgs = _run_two(tmp_path, postgres_url, sshd_server, corpus, lock=True)
    picked = [name for _, name in lines]
    assert sorted(picked) == sorted(names)  # every file downloaded exactly once, by one process or the other
    assert h.inbox() == set() and set(h.processed()) == names  # no "order-01.1.edi": nothing committed twice
    assert sorted(m.file_name for m in msgs) == sorted(names)


def test_an_interval_job_added_without_run_now_still_runs():
    """APScheduler 3 pauses a job added with next_run_time=None: the retry and recovery sweeps never ran."""
    import time as _time

    from gateway.scheduler import Scheduler

    sched, runs = Scheduler(), []
    sched.add_interval("sweep", lambda: runs.append(1), 0.2, run_now=False)
    sched.start()
    try:
        deadline = _time.monotonic() + 5
        while len(runs) < 2 and _time.monotonic() < deadline:
            _time.sleep(0.05)
    finally:
        sched.stop()
    assert len(runs) >= 2
