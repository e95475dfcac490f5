"""One inbound worker process (``python -m gateway.processes.worker``), started by the parent's supervisor.

The parent writes one line of JSON on the worker's standard input (the settings and the node id) and then keeps
the pipe open for the worker's whole life: end of file on it means the parent is gone (killed with it, or crashed),
and the worker stops. SIGTERM and SIGINT stop it cleanly too.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from typing import Any

STOP_DEADLINE_SECONDS = 60.0  # a clean stop that takes longer (a store that hangs) ends with os._exit


class WorkerField(logging.Filter):
    """Every record of a worker names it (``"worker": <node id>``): the parent and its workers share one log."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None)
        record.fields = {"worker": self.node, **(fields if isinstance(fields, dict) else {})}
        return True


def read_spec(stream: Any) -> dict[str, Any]:
    line = stream.readline()
    if not line:
        raise SystemExit("gateway inbound worker: no start line on standard input (started by gateway serve only)")
    spec: dict[str, Any] = json.loads(line)
    return spec


def watch_parent(stream: Any, stop: threading.Event) -> None:
    """Block until the parent's end of the pipe closes, then ask the worker to stop."""
    try:
        while stream.readline():
            pass
    except (OSError, ValueError):
        pass
    stop.set()


def main() -> None:
    from gateway.malloc import limit_arenas

    limit_arenas()  # as gateway serve does, before any thread: gateway/malloc.py
    spec = read_spec(sys.stdin)
    os.environ["GATEWAY_NODE_ID"] = spec["node"]  # before anything asks for gateway.node.node_id()
    os.environ["GATEWAY_PROCESS_SLOT"] = str(spec.get("slot", 0))  # its share of each inbox (transports/claims.py)
    from gateway.logging import configure_logging, get_logger
    from gateway.settings import Settings

    settings = Settings(**spec["settings"])
    configure_logging(settings.log_level, settings.log_format)
    for handler in logging.getLogger().handlers:
        handler.addFilter(WorkerField(spec["node"]))
    log = get_logger("gateway.worker")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=watch_parent, args=(sys.stdin, stop), name="parent-watch", daemon=True).start()
    from gateway.gcpolicy import settle
    from gateway.runtime import Gateway

    gw = Gateway(settings, role="inbound", parent=spec["parent"])
    # before its threads start (what they make is work in flight, not start-up): gateway/gcpolicy.py
    log.info("gc.settled", extra={"fields": settle().fields()})
    gw.start()
    log.info("worker.started", extra={"fields": {"node": spec["node"], "pid": os.getpid(), "parent": spec["parent"]}})
    while not stop.wait(1.0):
        pass
    deadline = threading.Timer(STOP_DEADLINE_SECONDS, lambda: os._exit(3))
    deadline.daemon = True
    deadline.start()
    gw.stop()
    log.info("worker.stopped", extra={"fields": {"node": spec["node"]}})


if __name__ == "__main__":
    main()
