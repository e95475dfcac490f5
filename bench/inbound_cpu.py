"""CPU of the inbound batch flow per small file, in-process: no server, no scheduler, no folder watch, so the
machine's other load moves it less than ``bench/e2e.py``'s wall figures.

    .venv/bin/python bench/inbound_cpu.py --files 550          # this checkout
    PYTHONPATH=<other checkout> .venv/bin/python bench/inbound_cpu.py --files 550   # another one, same venv

One-856 files (the Harbor 3PL sample with distinct interchange control numbers; ``--workload 940``: one-940
files from ACME Retail built as ``bench/e2e.py`` builds them, on ``samples/x12/940/acme-retail-new-order.edi``)
go to ``InboundFlow.receive_many`` in batches of 50 (``--batch``; the first batch warms up and is not counted), on
SQLite in a temporary gateway home under ``--data-root`` (``--database postgresql``: a scratch database on the test
server, GATEWAY_TEST_POSTGRES_URL; then also the CPU of its PostgreSQL backends per file, from ``/proc``). Printed:
CPU per file (process time), the parts spent in the mapping step (``MappingStep.batch``) and the hand-off release
(``HandoffFlow.release_many``), and the garbage collector's time and collections per generation.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gateway

ROOT = Path(gateway.__file__).resolve().parents[1]  # the checkout whose gateway is imported
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from gateway.flows.handoff import HandoffFlow  # noqa: E402
from gateway.flows.mapping_step import MappingStep  # noqa: E402
from gateway.runtime import Gateway  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.transports.folder import FolderInbound  # noqa: E402
from tests.support.gateway_home import drop, make_home  # noqa: E402
from tests.support.postgres import scratch_database  # noqa: E402

BATCH = 50
spent = {"mapping": 0.0, "release": 0.0, "gc": 0.0}
collections = [0, 0, 0]


def timed(cls: Any, name: str, part: str) -> None:
    original = getattr(cls, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[part] += time.thread_time() - start

    setattr(cls, name, wrapper)


def on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        spent["gc_start"] = time.thread_time()
    else:
        spent["gc"] += time.thread_time() - spent.get("gc_start", time.thread_time())
        collections[info["generation"]] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=550)
    parser.add_argument("--data-root", default="/dev/shm")
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after start-up (gateway serve before "
                                                                  "gateway/gcpolicy.py)")
    parser.add_argument("--settle", action="store_true", help="gateway.gcpolicy.settle() after start-up, as gateway "
                                                              "serve and its worker processes do")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workload", choices=("856", "940"), default="856",
                        help="856: Harbor 3PL's sample; 940: ACME Retail's, as bench/e2e.py builds them")
    parser.add_argument("--batch", type=int, default=BATCH, help="files per InboundFlow.receive_many call (gateway "
                                                                   "serve's batches are 25-50 files)")
    parser.add_argument("--gc-threshold", default="", help="gc.set_threshold(...) before the run, e.g. 700,10,10")
    args = parser.parse_args()
    timed(MappingStep, "batch", "mapping")
    timed(HandoffFlow, "release_many", "release")
    work = Path(tempfile.mkdtemp(prefix="gw-inbound-cpu-", dir=args.data_root))
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(scratch_database("gw_inbound_cpu")) if args.database == "postgresql" else None
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        run(args, work, url)


def _backends_cpu(gw: Gateway) -> float:
    """CPU seconds so far of the PostgreSQL backends serving ``gw``'s pool (0 on SQLite)."""
    if gw.engine.dialect.name != "postgresql":
        return 0.0
    with gw.engine.connect() as c:
        pids = [r[0] for r in c.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'gateway'"))]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _files(workload: str, count: int) -> list[bytes]:
    """The workload's files: the 856 sample with distinct ISA control numbers, or bench/e2e.py's 940s."""
    if workload == "940":
        from bench.e2e import Templates

        t = Templates()
        return [t.interchange("940", i, [t.body_940(i)]) for i in range(1, count + 1)]
    sample = (ROOT / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi").read_bytes()
    return [sample.replace(b"000000091", f"{100000000 + i:09}".encode()) for i in range(count)]


def run(args: argparse.Namespace, work: Path, url: str | None) -> None:
    home = make_home(work)
    extra = {"database_url": url} if url else {}
    gw = Gateway(load_settings(home / "config" / "gateway.yaml", **extra))  # not started: this script hands
    # the batches
    partner = "acme-retail" if args.workload == "940" else "harbor-3pl"
    inbox = gw.settings.data_path / "channels" / partner / "inbound"
    stage = work / "stage"
    stage.mkdir()
    for i, data in enumerate(_files(args.workload, args.files)):
        path = stage / f"in-{i:05}.edi"
        path.write_bytes(data)
        drop(path, inbox)
    folder = FolderInbound(channel=f"{partner}/inbox", path=inbox, partner_id=partner, min_age_seconds=0)
    items, _ = folder.poll()
    gw.inbound.receive_many(items[:args.batch])
    rest = items[args.batch:]
    spent.update(mapping=0.0, release=0.0, gc=0.0)
    if args.freeze:
        gc.freeze()
    if args.settle:
        from gateway.gcpolicy import settle

        settle()
    if args.gc_threshold:
        gc.set_threshold(*(int(v) for v in args.gc_threshold.split(",")))
    gc.callbacks.append(on_gc)
    pg0 = _backends_cpu(gw)
    start = time.process_time()
    for i in range(0, len(rest), args.batch):
        gw.inbound.receive_many(rest[i:i + args.batch])
    cpu = time.process_time() - start
    gc.callbacks.remove(on_gc)
    pg = _backends_cpu(gw) - pg0
    n = max(len(rest), 1)
    print(f"{ROOT}: {n} files, {1000 * cpu / n:.2f} ms CPU per file ({n / cpu:.0f} files per CPU-s); "
          f"mapping step {1000 * spent['mapping'] / n:.3f} ms, hand-off release {1000 * spent['release'] / n:.3f}"
          f" ms; garbage collector {1000 * spent['gc'] / n:.3f} ms per file, collections {collections}"
          + (f"; PostgreSQL backends {1000 * pg / n:.2f} ms CPU per file" if url else ""))
    gw.stop()
    gw.engine.dispose()


if __name__ == "__main__":
    main()
