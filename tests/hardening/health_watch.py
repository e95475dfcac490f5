"""Poll a gateway's ``/api/health`` from a process of its own (run as a script: ``python health_watch.py URL``).

One probe every 50 ms until stdin closes; one JSON line per probe on stdout: ``[start, seconds, status]``, where
``start`` is ``time.monotonic()`` (system-wide on Linux, so comparable with the test's clock) and ``status`` the
HTTP status or the name of the client error.

Why a process of its own: a watcher thread inside the test process shares the GIL with the test's 60 attacker
threads and measures them too. Against the same server at the same moments (load 15-21, two cores), a watcher
thread there saw answers of 1.07-1.23 s while this process saw at most 0.32 s (bench/results/flood.txt).
"""

from __future__ import annotations

import json
import select
import sys
import time

import httpx

PAUSE = 0.05


def main(url: str) -> None:
    with httpx.Client(timeout=10.0) as client:  # a slow answer is measured, not cut off at the bound
        while True:
            start = time.monotonic()
            status: int | str
            try:
                status = client.get(url).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            print(json.dumps([start, time.monotonic() - start, status]), flush=True)
            if select.select([sys.stdin], [], [], PAUSE)[0]:  # readable: the test closed stdin
                return


if __name__ == "__main__":
    main(sys.argv[1])
