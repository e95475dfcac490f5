"""The node registry: every ``gateway serve`` process sharing the store registers itself (table ``gateway_node``)
and renews a heartbeat while it runs, with what it is working on.

Each heartbeat (every ``node_heartbeat_seconds``, 5 s) does two things in a few short statements: it renews the message
leases this node holds (:class:`gateway.store.leases.MessageLeases`), and it writes ``last_seen`` and ``working``
(the scheduler jobs running now and how many leases of each kind the node holds). A node whose ``last_seen`` is
older than three heartbeats is shown as *gone*: it died, or lost the store; its leases run out and other nodes
take its work. A node stopped cleanly says so (``stopped_at``). ``/api/health/details`` lists the nodes and
``gateway_nodes`` / ``gateway_node_*`` metrics expose them.

Works the same on SQLite (one node) and PostgreSQL (several).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, or_, select, update

from gateway import __version__
from gateway.logging import get_logger
from gateway.node import FAMILY_LEN, node_id
from gateway.store.leases import MessageLeases
from gateway.store.models import BusinessObject, GatewayNode, Handoff, Message
from gateway.store.types import utcnow

log = get_logger(__name__)
N = GatewayNode.__table__  # type: ignore[attr-defined]
FORGET_AFTER = timedelta(days=7)  # rows of nodes gone this long are removed
LEASED_TABLES = {"messages": Message.__table__, "handoff_rows": Handoff.__table__,  # type: ignore[attr-defined]
                 "business_objects": BusinessObject.__table__}  # type: ignore[attr-defined]


def leases_held(engine: Engine, owner: str, now: datetime) -> dict[str, int]:
    """Unexpired leases ``owner`` holds, by kind of row."""
    out = {}
    with engine.connect() as conn:
        for kind, t in LEASED_TABLES.items():
            q = select(func.count()).select_from(t).where(t.c.lease_owner == owner, t.c.lease_until >= now)
            out[kind] = int(conn.execute(q).scalar() or 0)
    return out


class NodeRegistry:
    def __init__(
        self,
        engine: Engine,
        *,
        heartbeat: timedelta = timedelta(seconds=10),
        leases: Sequence[MessageLeases] = (),
        jobs: Callable[[], list[str]] | None = None,
        clock: Callable[[], datetime] = utcnow,
        node: str | None = None,
        family: str | None = None,
    ) -> None:
        self.engine = engine
        self.node = node or node_id()
        self.heartbeat = heartbeat
        self.leases = leases
        self.jobs = jobs or (lambda: [])
        self.clock = clock
        # gateway serve with inbound worker processes: the parent's node id. The parent watches its workers'
        # processes and records one that exits as stopped, and a worker exits with its parent: within the family a
        # missed heartbeat (on SQLite, a write lock held long by one of them) never makes a node gone, only a stop
        self.family = family
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def gone_after(self) -> timedelta:
        return self.heartbeat * 3

    # -- this node ---------------------------------------------------------------------------------------------
    def register(self) -> None:
        now = self.clock()
        row = {"host": socket.gethostname()[:255], "pid": os.getpid(), "version": __version__, "started_at": now,
               "last_seen": now, "stopped_at": None, "working": self._working(now)}
        with self.engine.begin() as conn:
            if not conn.execute(update(N).where(N.c.node_id == self.node).values(**row)).rowcount:
                conn.execute(insert(N).values(node_id=self.node, **row))
        log.info("node.registered", extra={"fields": {"node": self.node, "pid": row["pid"], "host": row["host"]}})

    def beat(self) -> None:
        """Renew this node's message leases, then its heartbeat row."""
        for leases in self.leases:
            leases.renew()
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(update(N).where(N.c.node_id == self.node)
                         .values(last_seen=now, stopped_at=None, working=self._working(now)))
            conn.execute(delete(N).where(N.c.last_seen < now - FORGET_AFTER))

    def _working(self, now: datetime) -> dict[str, Any]:
        return {"jobs": self.jobs(), "leases": leases_held(self.engine, self.node, now)}

    def start(self) -> None:
        self.register()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="node-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.heartbeat.total_seconds()):
            try:
                self.beat()
            except Exception as exc:  # the store is away: leases and the heartbeat run out, others take over
                log.warning("node.heartbeat_failed", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            now = self.clock()
            with self.engine.begin() as conn:
                conn.execute(update(N).where(N.c.node_id == self.node)
                             .values(last_seen=now, stopped_at=now, working={"jobs": [], "leases": {}}))
        except Exception:
            log.warning("node.stop_not_recorded", extra={"fields": {"node": self.node}})

    def mark_stopped(self, nodes: Sequence[str]) -> int:
        """Record other nodes as stopped: ``gateway serve``'s inbound worker processes that exited (the parent
        saw them go), so that their claims and leases are taken over at once instead of after three heartbeats."""
        if not nodes:
            return 0
        now = self.clock()
        with self.engine.begin() as conn:
            res = conn.execute(update(N).where(N.c.node_id.in_(list(nodes)), N.c.node_id != self.node,
                                               N.c.stopped_at.is_(None)).values(stopped_at=now))
        return int(res.rowcount or 0)

    def retire_others(self) -> int:
        """Record every other node not stopped as stopped: on SQLite, one node's embedded store, a starting
        ``gateway serve`` is the only live process (its worker processes start after it), so any other row is a
        crashed earlier run's."""
        with self.engine.connect() as conn:
            others = list(conn.execute(select(N.c.node_id).where(N.c.stopped_at.is_(None))).scalars())
        return self.mark_stopped(others)

    def gone_ids(self) -> set[str]:
        """Ids of nodes known dead: stopped, or no heartbeat for three periods (their leases may be taken)."""
        now = self.clock()
        with self.engine.connect() as conn:
            q = (select(N.c.node_id, N.c.stopped_at)
                 .where(or_(N.c.stopped_at.is_not(None), N.c.last_seen < now - self.gone_after)))
            found = conn.execute(q).all()
        return {n for n, stopped in found if stopped is not None or not self.kin(n)} - {self.node}

    def kin(self, node: str) -> bool:
        """``node`` is this process's parent, itself or a sibling worker process (see ``family``)."""
        if self.family is None:
            return False
        return node == self.family or node.startswith(f"{self.family[:FAMILY_LEN]}-w")

    # -- every node --------------------------------------------------------------------------------------------
    def nodes(self) -> list[dict[str, Any]]:
        """Every registered node, newest heartbeat first, with its state: live, gone (no heartbeat for three
        periods) or stopped (a clean stop)."""
        now = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(select(N).order_by(N.c.last_seen.desc())).mappings().all()
        out = []
        for r in rows:
            state = "stopped" if r["stopped_at"] else "live" if r["last_seen"] >= now - self.gone_after else "gone"
            out.append({
                "node_id": r["node_id"], "host": r["host"], "pid": r["pid"], "version": r["version"],
                "started_at": r["started_at"], "last_seen": r["last_seen"], "state": state,
                "this_node": r["node_id"] == self.node,
                "working": r["working"] or {"jobs": [], "leases": {}},
            })
        return out
