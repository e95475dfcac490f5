"""CPU and wall time of Archive.put_bytes for many distinct small payloads (the per-file archive cost).

    .venv/bin/python bench/archive_put.py samples/x12/856/harbor-3pl-crossdock.edi 2000 [--root /dev/shm]

Payloads are the file's bytes with a distinct 8-digit tail each; the archive is a fresh folder under ``--root``
(a RAM disk isolates the Python cost; a real disk adds the fsyncs). Prints per-put CPU and wall time, and load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from gateway.store.archive import Archive  # the installed gateway (PYTHONPATH=<other worktree> for a baseline)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path)
    p.add_argument("count", type=int, nargs="?", default=2000)
    p.add_argument("--root", default="/dev/shm" if Path("/dev/shm").is_dir() else None)
    args = p.parse_args()
    data = args.file.read_bytes()
    root = Path(tempfile.mkdtemp(prefix="archive-put-", dir=args.root))
    try:
        archive = Archive(root)
        payloads = [data + b"%08d" % i for i in range(args.count)]
        c0, t0 = cpu(), time.perf_counter()
        for payload in payloads:
            archive.put_bytes(payload)
        c1, t1 = cpu(), time.perf_counter()
        n = args.count
        print(f"put_bytes {len(data)} B x {n}: {1e6 * (c1 - c0) / n:.1f} us CPU/put, {1e6 * (t1 - t0) / n:.1f} us "
              f"wall/put, load {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
