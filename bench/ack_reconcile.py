"""Benchmark acknowledgement reconciliation: a partner 997 answering one group of N transaction sets of ours.

Usage::

    .venv/bin/python bench/ack_reconcile.py             # N = 2000 sets, SQLite in a temporary folder
    .venv/bin/python bench/ack_reconcile.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

With ``--postgres`` (an admin URL) the run creates a throw-away database on that server and drops it afterwards.

Reported, in one run and on the same 997 (every tenth set rejected with an AK3/AK4 pair):

* ``analyze``: :func:`gateway.edi.x12.analyze` of the 997, the envelope check every inbound file gets (reference);
* ``read``: :func:`gateway.edi.x12.ack_read.read_acknowledgements` (pure: outcomes and readable text);
* ``reconcile``: :meth:`gateway.flows.reconcile.Reconciler.reconcile` (read + match in the store + one transaction
  recording the set codes, the document's status, its event and the link),

each as seconds and sets per second, and the ratio reconcile / analyze.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gateway.edi.x12 import analyze  # noqa: E402
from gateway.edi.x12.ack_read import read_acknowledgements  # noqa: E402
from gateway.flows.reconcile import Reconciler  # noqa: E402
from gateway.store.archive import Archive  # noqa: E402
from gateway.store.db import create_db_engine  # noqa: E402
from gateway.store.migrate import upgrade  # noqa: E402
from gateway.store.models import Direction, MessageStatus  # noqa: E402
from gateway.store.repository import GroupRecord, InterchangeRecord, SetRecord, Store  # noqa: E402


def partner_997(n: int) -> bytes:
    body = []
    for i in range(1, n + 1):
        body.append(f"AK2*945*{i:04d}")
        if i % 10 == 0:
            body += ["AK3*N1*6*N1*8", "AK4*2*93*2"]
            body.append("AK5*R*5")
        else:
            body.append("AK5*A")
    accepted = n - n // 10
    segs = ["ST*997*0001", "AK1*SW*77", *body, f"AK9*P*{n}*{n}*{accepted}"]
    segs.append(f"SE*{len(segs) + 1}*0001")
    isa = ("ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261206*1200*U*00401*000000900*0*P*>")
    return "~\n".join([isa, "GS*FA*SENDER*RECEIVER*20261206*1200*900*X*004010", *segs, "GE*1*900",
                       "IEA*1*000000900"]).encode() + b"~\n"


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@contextmanager
def database(admin_url: str | None, tmp: str) -> Iterator[str]:
    if admin_url is None:
        yield f"sqlite:///{tmp}/bench.db"
        return
    name = f"bench_ack_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=2000)
    ap.add_argument("--postgres", default=None, help="admin URL of a PostgreSQL server (a scratch database is used)")
    args = ap.parse_args()
    n = args.sets
    with tempfile.TemporaryDirectory() as tmp, database(args.postgres, tmp) as url:
        engine = create_db_engine(url)
        upgrade(engine)
        store, archive = Store(engine), Archive(Path(tmp) / "archive")
        blob = archive.put_bytes(b"ISA~945~")
        sent, _ = store.create_message(direction=Direction.outbound, status=MessageStatus.sent, partner_id="harbor",
                                       file_name="945.x12", size=blob.size, sha256=blob.sha256, archive_key=blob.key,
                                       events=[])
        store.replace_lineage(sent.id, [InterchangeRecord("ZZ", "RECEIVER", "ZZ", "SENDER", "000000077", groups=[
            GroupRecord("SW", "RECEIVER", "SENDER", "77", "004010",
                        [SetRecord("945", f"{i:04d}") for i in range(1, n + 1)])])])
        data = partner_997(n)
        ack_blob = archive.put_bytes(data)
        ack, _ = store.create_message(direction=Direction.inbound, status=MessageStatus.processing,
                                      partner_id="harbor", file_name="997.x12", size=ack_blob.size,
                                      sha256=ack_blob.sha256, archive_key=ack_blob.key, events=[])
        assert analyze(data).valid
        t_analyze = timed(lambda: analyze(data))
        t_read = timed(lambda: read_acknowledgements(data))
        result = None

        def run() -> None:
            nonlocal result
            result = Reconciler(store=store, archive=archive).reconcile(ack, "harbor")

        t_rec = timed(run)
        assert result is not None and result.matched == {sent.id: "partially_accepted"}
        engine.dispose()
    backend = url.split(":", 1)[0]
    print(f"997 answering {n} sets ({len(data) / 1024:.0f} KB), store {backend}")
    for name, t in (("analyze", t_analyze), ("read", t_read), ("reconcile", t_rec)):
        print(f"  {name:<10} {t:8.3f} s  {n / t:10.0f} sets/s")
    print(f"  ratio reconcile/analyze: {t_rec / t_analyze:.2f}")


if __name__ == "__main__":
    main()
