"""This process's node id: who holds a lease, a claim or a heartbeat row when several gateways share one store.

One id per process, fixed at first use: ``GATEWAY_NODE_ID`` when set (an operator's stable name, e.g. ``gw-2``),
else ``<host>-<pid>-<random>`` so that a restarted process never mistakes its predecessor's leases for its own.
At most 64 characters (the width of every ``lease_owner`` column).
"""

from __future__ import annotations

import os
import socket
import uuid
from functools import lru_cache

MAX_LEN = 64
FAMILY_LEN = MAX_LEN - 12  # of a serve process's id, in its inbound workers' ids: room for "-w16.9999999"


@lru_cache(maxsize=1)
def node_id() -> str:
    named = os.environ.get("GATEWAY_NODE_ID", "").strip()
    if named:
        return named[:MAX_LEN]
    host = socket.gethostname().replace(":", "_")[:40]
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"[:MAX_LEN]


def process_slot() -> int:
    """This process's place among the processes of one ``gateway serve``: 0 for the parent (and any single
    process), 1..N-1 for its inbound worker processes (``GATEWAY_PROCESS_SLOT``, set by the worker at start)."""
    try:
        return max(0, int(os.environ.get("GATEWAY_PROCESS_SLOT", "0")))
    except ValueError:
        return 0
