"""Per-run cost of the scheduled jobs' queries against the size of the archive, SQLite and PostgreSQL.

Seeds a fresh store (the real migrations) with N messages as a running gateway leaves them: inbound X12 files
acked, mapped and handed off (``handoff_status`` set, ``message.received`` + ``mapping.done`` on the timeline, one
delivered outbox row each), a few failed and duplicates, and an outbound 997 per two inbound files (sent or
delivered), plus a fixed handful of PENDING work for each job (inbound files accepted but never released, outbound
documents retrying, unfinished submissions, ...). Then times, best of ``--reps``, the query each periodic job runs
every time it runs, called through the gateway's own functions:

* ``handoff.reconcile``   Outbox.unreleased (every 60 s)
* ``inbound.recover``     Store.unfinished(inbound) + unmapped_acked (every 15 s; lease / 2)
* ``outbound.unfinished`` Store.unfinished(outbound): documents.recover (15 s) and delivery.retries (10 s)
* ``ack.overdue``         claim_overdue (nothing due: the read)
* ``sla.claim_due``, ``sla.unannounced``  the service-level job's two reads
* ``as2.mdn_overdue``     As2Sender.check_overdue (every 60 s when AS2 is configured; async MDNs awaited)
* ``handoff.claim``       Outbox.claim (the hand-off sweep, nothing due)

A job's pending work is the same whatever N: its time should not grow with N. Each job's result (ids found) is
printed as a count, so two checkouts can be compared on the same seed (``PYTHONPATH`` picks the gateway code).

    PYTHONPATH=. .venv/bin/python bench/archive_jobs.py --messages 100000 --backend sqlite
    PYTHONPATH=. .venv/bin/python bench/archive_jobs.py --messages 100000 --backend postgresql
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gateway.flows.recovery import unmapped_acked
from gateway.handoff.outbox import Outbox
from gateway.store import business
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from gateway.store.models import Direction
from gateway.store.reconciliation import claim_overdue
from gateway.store.repository import Store
from tests.support.postgres import scratch_database

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=30)
PENDING = 20  # of each kind of pending work
MSG = ("id, direction, status, partner_id, idempotency_key, document_format, set_ids, size, sha256, archive_key, "
       "handoff_status, ack_status, delivery_status, created_at, updated_at")
EVT = "message_id, at, name, actor"
HOF = ("event_id, destination, lane, message_id, position, partner_id, event_type, record_type, status, attempts, "
       "due_at, body, created_at")


def rows(n: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(messages, events, outbox rows) of an archive of ``n`` messages plus the pending work."""
    msgs: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    outbox: list[tuple[Any, ...]] = []

    def msg(direction: str, status: str, handoff: str | None, *, fmt: str = "x12", key: str | None = None,
            ack: str | None = None, delivery: str | None = None, at: datetime = OLD, mapped: bool = True) -> int:
        mid = len(msgs) + 1
        p = f"p{mid % 50:02d}"
        msgs.append((mid, direction, status, p, key or f"k{mid}", fmt, "856", 1200, f"{mid:064x}", f"a/{mid}",
                     handoff, ack, delivery, at, at))
        events.append((mid, at, "message.received", "gateway"))
        if direction == "inbound" and status == "acked" and mapped:
            events.append((mid, at, "mapping.done", "gateway"))
        if handoff == "delivered":
            outbox.append((f"e{mid}", "bus", f"bus|{p}", mid, 0, p, "record", "order", "delivered", 1, at, "{}", at))
        return mid

    while len(msgs) < n:
        i = len(msgs)
        if i % 3 == 2:
            msg("outbound", "sent" if i % 2 else "delivered", None, delivery="sent" if i % 2 else "delivered",
                ack="not_expected")
        elif i % 50 == 0:
            msg("inbound", "failed", None)
        elif i % 97 == 0:
            msg("inbound", "duplicate", None)
        else:
            msg("inbound", "acked", "delivered" if i % 5 else "skipped")
    recent = NOW - timedelta(minutes=10)
    for _ in range(PENDING):
        msg("inbound", "acked", None, at=recent)  # accepted, never released: handoff.reconcile's work
        msg("inbound", "processing", None, at=recent)  # a crash mid-file: inbound.recover's
        msg("inbound", "acked", None, at=recent, mapped=False)  # acked, never mapped: inbound.recover's
        msg("outbound", "retrying", None, delivery="failed", at=recent)  # delivery.retries'
        msg("outbound", "queued", None, key=f"submit:{len(msgs) + 1}", at=recent)  # documents.recover's
        msg("outbound", "sent", None, ack="waiting", at=recent)  # ack.overdue's: not due yet
        mid = msg("outbound", "sent", None, key=f"as2-out:them:{len(msgs) + 1}", at=recent)  # an async MDN awaited
        events.append((mid, recent, "mdn.awaited", "gateway"))  # (no detail: not due, as2.mdn_overdue reads it)
    return msgs, events, outbox


def seed(engine: sa.Engine, n: int) -> None:
    msgs, events, outbox = rows(n)
    raw = engine.raw_connection()
    dbapi: Any = raw.driver_connection
    if engine.dialect.name == "sqlite":
        cur = raw.cursor()
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        cur.executemany(f"INSERT INTO message ({MSG}) VALUES ({','.join('?' * 15)})",
                        [(*m[:13], m[13].strftime(fmt), m[14].strftime(fmt)) for m in msgs])
        cur.executemany(f"INSERT INTO event ({EVT}) VALUES (?, ?, ?, ?)", [(e[0], e[1].strftime(fmt), *e[2:])
                                                                          for e in events])
        cur.executemany(f"INSERT INTO handoff ({HOF}) VALUES ({','.join('?' * 13)})",
                        [(*h[:10], h[10].strftime(fmt), h[11], h[12].strftime(fmt)) for h in outbox])
        raw.commit()
    else:
        with dbapi.cursor() as cur:
            for table, cols, data in (("message", MSG, msgs), ("event", EVT, events), ("handoff", HOF, outbox)):
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                    for row in data:
                        cp.write_row(row)
            cur.execute("SELECT setval(pg_get_serial_sequence('message', 'id'), (SELECT max(id) FROM message))")
        dbapi.commit()
        dbapi.autocommit = True
        with dbapi.cursor() as cur:
            cur.execute("VACUUM ANALYZE")  # what autovacuum does in a running system
        dbapi.autocommit = False
    raw.close()


def as2_sender(store: Store) -> Any:
    """As2Sender with only what its check_overdue reads (the store and the clock): no AS2 settings needed."""
    from gateway.as2.send import As2Sender

    sender = As2Sender.__new__(As2Sender)
    sender.store, sender.clock = store, lambda: NOW
    return sender


def jobs(store: Store) -> dict[str, Callable[[], int]]:
    engine = store.engine
    outbox = Outbox(engine)
    return {
        "handoff.reconcile": lambda: len(outbox.unreleased(before=NOW - timedelta(minutes=5))),
        "inbound.recover": lambda: len(store.unfinished(Direction.inbound)) + len(unmapped_acked(store)),
        "outbound.unfinished": lambda: len(store.unfinished(Direction.outbound)),
        "ack.overdue": lambda: len(claim_overdue(store, now=NOW)),
        "sla.claim_due": lambda: len(business.claim_due(engine, owner="bench", now=NOW, lease=timedelta(minutes=1))),
        "sla.unannounced": lambda: len(business.unannounced(engine)),
        "as2.mdn_overdue": lambda: len(as2_sender(store).check_overdue()),
        "handoff.claim": lambda: sum(len(v) for v in outbox.claim(owner="bench", now=NOW, lease=timedelta(minutes=1),
                                                                    destinations=["bus"]).values()),
    }


def measure(url: str, reps: int) -> None:
    engine = create_db_engine(url)
    store = Store(engine)
    for name, job in jobs(store).items():
        found = job()
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            job()
            best = min(best, time.perf_counter() - t0)
        print(f"  {name:20s} {best * 1000:9.2f} ms   found {found}", flush=True)
    engine.dispose()


def run(backend: str, n: int, reps: int) -> None:
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp, \
            contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'gateway.db'}"
        else:  # a scratch database on GATEWAY_TEST_POSTGRES_URL's server, dropped afterwards
            url = stack.enter_context(scratch_database("gw_jobs"))
        engine = create_db_engine(url)
        upgrade(engine)
        t0 = time.perf_counter()
        seed(engine, n)
        engine.dispose()
        print(f"[{backend}] {n:,} archived messages (+{PENDING} of each pending kind), seeded in "
              f"{time.perf_counter() - t0:.1f} s; best of {reps}:", flush=True)
        measure(url, reps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        run(backend, args.messages, args.reps)


if __name__ == "__main__":
    main()
