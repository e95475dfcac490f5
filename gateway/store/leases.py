"""Message leases: which node works on a message now, and until when (columns ``lease_owner``/``lease_until``).

With several gateway processes on one PostgreSQL store, a message in flight (inbound ``archived``/``processing``,
outbound ``processing``/``sending``) belongs to the node that holds its lease. :meth:`MessageLeases.take` is one
conditional ``UPDATE`` (a row lock on PostgreSQL): it succeeds when the lease is free, expired, or already this
node's. The node renews the leases it holds on every heartbeat (:meth:`renew`, called by
:class:`gateway.store.nodes.NodeRegistry`) for as long as the work runs, and gives them back when the work ends
(:meth:`release`). A node that dies stops renewing: once ``lease_until`` passes, any node may take the message and
resume it. Start-up recovery therefore resumes only messages whose lease ran out, never a live node's.

A lease may also be taken before it runs out when its owner is known to be dead: on PostgreSQL, a node the node
registry shows as gone or stopped (``gone``); on SQLite, which is one node's embedded store, any other owner (a
previous run of this process that crashed), unless the node runs inbound worker processes
(:mod:`gateway.processes`): they share the store with it, and the registry decides as on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, bindparam, or_, update

from gateway.logging import get_logger
from gateway.node import node_id
from gateway.store.models import Message
from gateway.store.types import utcnow

log = get_logger(__name__)
M = Message.__table__  # type: ignore[attr-defined]
DEFAULT = timedelta(seconds=60)


# the leases of these messages given back, when this node holds them (built once: one per batch of files)
RELEASE = (update(M).where(M.c.id.in_(bindparam("ids", expanding=True)), M.c.lease_owner == bindparam("owner"))
           .values(lease_owner=None, lease_until=None))


def free(now: datetime, owner: str) -> ColumnElement[bool]:
    """SQL condition: the message's lease may be taken by ``owner`` at ``now``."""
    return or_(M.c.lease_owner.is_(None), M.c.lease_owner == owner, M.c.lease_until.is_(None), M.c.lease_until < now)


class MessageLeases:
    """The leases this process holds on messages (one instance per gateway process, shared by its flows)."""

    def __init__(self, engine: Engine, *, lease: timedelta = DEFAULT, owner: str | None = None,
                 clock: Callable[[], datetime] = utcnow, gone: Callable[[], set[str]] | None = None,
                 single_node: bool | None = None) -> None:
        self.engine = engine
        # every other owner is a dead earlier run: SQLite, unless worker processes share it (single_node=False)
        self.single_node = engine.dialect.name == "sqlite" if single_node is None else single_node
        self.gone = gone or (lambda: set())  # owners known dead (the node registry sets this)
        self.lease = lease
        self.owner = owner or node_id()
        self.clock = clock
        self._held: Counter[int] = Counter()  # message id -> how many works of this process hold it
        self._guard = threading.Lock()

    def take(self, message_id: int) -> bool:
        """Lease a message to this node: True when free, expired, or its owner is dead; False while another
        node holds it, or while work of this process holds it (one work per message, on one node or many)."""
        with self._guard:
            if message_id in self._held:
                return False
        now = self.clock()
        got = self._take(message_id, free(now, self.owner), now)
        if not got:  # held: by a live node, or by one that died (asked only now: the hot path stays one UPDATE)
            dead = M.c.lease_owner != self.owner if self.single_node else M.c.lease_owner.in_(sorted(self.gone()))
            got = self._take(message_id, dead, now)
        if got:
            with self._guard:
                if message_id in self._held:  # another thread of this process took it meanwhile
                    got = False
                self._held[message_id] += 1
            if not got:
                self.release(message_id)
        return got

    def _take(self, message_id: int, condition: ColumnElement[bool], now: datetime) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(
                update(M).where(M.c.id == message_id, condition)
                .values(lease_owner=self.owner, lease_until=now + self.lease)
            ).rowcount)

    def held_elsewhere(self, msg: Message, now: datetime) -> bool:
        """``msg`` (as read) is leased to another node that is alive as far as this node knows."""
        return self.elsewhere()(msg, now)

    def elsewhere(self) -> Callable[[Message, datetime], bool]:
        """:meth:`held_elsewhere` for a sweep over many messages: the node registry is asked at most once, and only
        for a message another node holds (the inbound recovery sweep of a parent with an inbound worker process met
        up to a batch of the worker's messages in flight and asked the registry once per message)."""
        known: list[set[str]] = []

        def check(msg: Message, now: datetime) -> bool:
            if msg.lease_owner in (None, self.owner) or msg.lease_until is None or msg.lease_until < now:
                return False
            if self.single_node:
                return False
            if not known:
                known.append(self.gone())
            return msg.lease_owner not in known[0]

        return check

    def adopt(self, message_id: int) -> None:
        """Count a lease written by another statement of this node (a claim, or a message created leased)."""
        self.adopt_many([message_id])

    def adopt_many(self, message_ids: Sequence[int]) -> None:
        """:meth:`adopt` for several messages (a batch of files created leased)."""
        with self._guard:
            self._held.update(message_ids)

    def release(self, message_id: int) -> None:
        """This work on the message ended: the lease is dropped once no other work of this node holds it."""
        self.release_many([message_id])

    def release_many(self, message_ids: Sequence[int]) -> None:
        """:meth:`release` for several messages (a batch of files): one ``UPDATE`` for the leases dropped."""
        last = []
        with self._guard:
            for message_id in message_ids:
                self._held[message_id] -= 1
                if self._held[message_id] <= 0:
                    del self._held[message_id]
                    last.append(message_id)
        if last:
            with self.engine.begin() as conn:
                conn.execute(RELEASE, {"ids": last, "owner": self.owner})

    @contextmanager
    def working(self, message_id: int) -> Iterator[bool]:
        """Hold the message's lease for the block; yields False (and holds nothing) when another node has it."""
        if not self.take(message_id):
            yield False
            return
        try:
            yield True
        finally:
            try:
                self.release(message_id)
            except Exception as exc:  # the store is down: the lease expires by itself
                log.warning("message.lease_not_released",
                            extra={"fields": {"message_id": message_id, "error": type(exc).__name__}})

    def held(self) -> list[int]:
        with self._guard:
            return list(self._held)

    def renew(self) -> int:
        """Extend every lease this node holds (the heartbeat calls this well within the lease)."""
        ids = self.held()
        if not ids:
            return 0
        now = self.clock()
        with self.engine.begin() as conn:
            res = conn.execute(
                update(M).where(and_(M.c.id.in_(ids), M.c.lease_owner == self.owner))
                .values(lease_until=now + self.lease)
            )
        return int(res.rowcount or 0)

    def fields(self) -> dict[str, Any]:
        """Columns for a message created already leased to this node (no window in which another node sees it
        unleased); call :meth:`adopt` once it has an id."""
        return {"lease_owner": self.owner, "lease_until": self.clock() + self.lease}


def claim_step(store: Any, leases: MessageLeases, message_id: int, from_statuses: Sequence[Any], to: Any,
               stale: timedelta) -> bool:
    """Claim a flow step (``Store.claim``: ``from_statuses`` -> ``to``, leased to this node), or take over a step
    left in ``to`` by a node that is dead (known gone, or any earlier run on SQLite) or whose lease ran out. A step
    this process is working on itself is never taken over. The lease is counted as held (renewed) on success:
    the caller releases it when the step ends."""
    if store.claim(message_id, from_statuses, to, stale=stale, owner=leases.owner):
        leases.adopt(message_id)
        return True
    if message_id in leases.held() or not leases.take(message_id):
        return False  # this process works on it, or a live node does
    if store.claim(message_id, from_statuses, to, stale=stale, owner=leases.owner, mine=True):
        return True
    leases.release(message_id)
    return False
