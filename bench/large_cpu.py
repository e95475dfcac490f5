"""CPU of one large interchange through the inbound flow, in-process (no server, scheduler or folder watch):
archive, envelope step with its keys, 997, mapping step with its keys and canonical JSON; the hand-off is left
out (``bench/e2e.py`` stops its clock at ``mapping.done`` too).

    .venv/bin/python bench/large_cpu.py --sets 10000                        # this checkout, SQLite
    GATEWAY_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/large_cpu.py   # a scratch PostgreSQL
    PYTHONPATH=<other checkout> .venv/bin/python bench/large_cpu.py         # another checkout, same venv
    perf stat -e instructions:u .venv/bin/python bench/large_cpu.py [--setup-only]    # instructions: the
                                                            # difference of the two is the file's, load-independent

The file is bench/e2e.py's ``large`` workload. Printed: CPU (this process's threads, and the children it waited
for: the mapping split's), this process's main thread alone (the critical path when the other threads and the
child have a core of their own) and wall time of ``InboundFlow.receive_many`` for the file.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import gateway

ROOT = Path(gateway.__file__).resolve().parents[1]  # the checkout whose gateway is imported
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e import make_workloads  # noqa: E402

from gateway.runtime import Gateway  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.transports.folder import FolderInbound  # noqa: E402
from tests.support.gateway_home import drop, make_home  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", type=int, default=10000)
    parser.add_argument("--data-root", default="/dev/shm")
    parser.add_argument("--setup-only", action="store_true", help="everything but receiving the file")
    args = parser.parse_args()
    os.environ.setdefault("GATEWAY_MAPPINGS_DIR", str(ROOT / "mappings"))
    work = Path(tempfile.mkdtemp(prefix="gw-large-cpu-", dir=args.data_root))
    try:
        home = make_home(work / "home")
        os.environ.setdefault("GATEWAY_DATA_DIR", str(home / "var"))
        gw = Gateway(load_settings(home / "config" / "gateway.yaml"))  # not started: this script hands the file
        gw.inbound.handoff = None
        (w,) = make_workloads(["large"], 0, args.sets, work)
        inbox = gw.settings.data_path / "channels" / "harbor-3pl" / "inbound"
        drop(w.files[0][1], inbox)
        folder = FolderInbound(channel="harbor-3pl/inbox", path=inbox, partner_id="harbor-3pl", min_age_seconds=0)
        items, _ = folder.poll()
        gc.freeze()  # as gateway serve does after start-up
        t0, wall0, main0 = os.times(), time.perf_counter(), time.thread_time()
        if not args.setup_only:
            (msg,) = gw.inbound.receive_many(items)
            events = [e.name for e in gw.store.events(msg.id)]
            assert "mapping.done" in events, events
        t1, wall, main = os.times(), time.perf_counter() - wall0, time.thread_time() - main0
        own = t1.user + t1.system - t0.user - t0.system
        kids = t1.children_user + t1.children_system - t0.children_user - t0.children_system
        cpu = own + kids  # with a child that mapped half of the sets (gateway/flows/mapping_split.py)
        kid_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{ROOT}: {args.sets} sets: {cpu:.2f} s CPU ({args.sets / max(cpu, 1e-9):.0f} sets/cpu-s; this "
              f"process {own:.2f} s of which its main thread {main:.2f} s, children {kids:.2f} s, their peak RSS "
              f"{kid_rss:.0f} MB), {wall:.2f} s wall, peak RSS {own_rss:.0f} MB; "
              f"load {os.getloadavg()[0]:.1f}")
        gw.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
