"""What the per-process bench hooks share (bench/cpuhook, bench/sqlcount, each loaded as ``sitecustomize`` through
PYTHONPATH, so that ``gateway serve`` and its inbound worker processes, which inherit the variables, run them):
their figures written as JSON to ``<out>.<pid>``, one file per process, replaced whole (a reader never sees half a
file), at exit and every ``every`` seconds while the process runs. A hook puts this folder on ``sys.path`` (at the
end: it holds only this module) when its output variable is set."""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any


def write(out: str, data: dict[str, Any]) -> None:
    path = f"{out}.{os.getpid()}"
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def keep_written(out: str, snapshot: Callable[[], dict[str, Any]], *, every: float, name: str) -> None:
    """Write ``snapshot()`` at exit and, from a daemon thread called ``name``, every ``every`` seconds."""

    def dump() -> None:
        write(out, snapshot())

    def loop() -> None:
        while True:
            time.sleep(every)
            try:
                dump()
            except OSError:  # the folder went away (the bench is cleaning up): the exit's write says the last word
                pass

    atexit.register(dump)
    threading.Thread(target=loop, daemon=True, name=name).start()
