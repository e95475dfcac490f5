"""Time the service-level index over a kept store (``bench/e2e.py --keep``): every chunk transaction, the total, and
a digest of the resulting ``business_object`` rows (to compare two versions of the code on the same keys), and the
SQL statements and CPU per message.

    PYTHONPATH=<checkout> python bench/stall_index.py <gateway home or .db> [--postgresql URL]

The store is copied (SQLite) and its index reset (cursor 0, no objects, no breaches) before the run."""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

import gateway
from gateway.store import business_index as index
from gateway.store.db import create_db_engine


def reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM sla_breach"))
        conn.execute(sa.text("DELETE FROM business_object"))
        conn.execute(sa.text("DELETE FROM control_counter WHERE scope = '(business)'"))


def digest(engine: sa.Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        objs = conn.execute(sa.text("SELECT kind, norm, key, partner_id, first_at, last_at FROM business_object "
                                    "ORDER BY kind, norm")).all()
    h = hashlib.sha256("\n".join(repr(tuple(r)) for r in objs).encode()).hexdigest()[:16]
    return len(objs), h


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("--postgresql", help="run on this PostgreSQL URL instead (already filled)")
    args = p.parse_args()
    print(f"# gateway from {Path(gateway.__file__).parent}")
    if args.postgresql:
        url = args.postgresql
    else:
        src = Path(args.store)
        src = src / "var" / "gateway.db" if src.is_dir() else src
        tmp = Path(tempfile.mkdtemp(prefix="stall-", dir="/dev/shm"))
        shutil.copy(src, tmp / "gateway.db")
        url = f"sqlite:///{tmp / 'gateway.db'}"
    engine = create_db_engine(url)
    reset(engine)
    now = datetime.now(UTC)
    statements = [0]

    def count(*_args: object) -> None:
        statements[0] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    with engine.connect() as conn:
        messages = conn.execute(sa.text("SELECT COUNT(DISTINCT message_id) FROM business_key")).scalar() or 1
    seen: dict = {}
    longest = total = 0.0
    chunks = keys = 0
    cpu0 = time.process_time()
    while True:
        t = time.perf_counter()
        n = index.index_new_keys(engine, now=now, seen=seen)
        d = time.perf_counter() - t
        if n == 0:
            break
        chunks += 1
        keys += n
        total += d
        longest = max(longest, d)
    cpu = time.process_time() - cpu0
    sa.event.remove(engine, "before_cursor_execute", count)
    count, h = digest(engine)
    print(f"key rows {keys} in {chunks} chunks: {total:.2f} s ({cpu:.2f} CPU-s), longest chunk transaction "
          f"{longest * 1000:.0f} ms; objects {count} digest {h}")
    print(f"messages {messages}: {statements[0]} statements ({statements[0] / messages:.2f} per message), "
          f"{cpu / messages * 1000:.3f} CPU-ms per message")
    if not args.postgresql:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
