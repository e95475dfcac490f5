"""The reference transport: a partner "server" held in memory, with the same semantics every real transport
must have (see base.py and the contract suite in tests/transports/contract.py).

A :class:`MemoryServer` plays the partner side: an inbox the partner drops items into (an item can be incomplete,
as a file still being uploaded), a ``processed`` and a ``failed`` area the gateway commits to, and an outbox the
gateway sends to. It outlives transport instances, so a new :class:`MemoryInbound` on the same server is a
restarted gateway. ``reachable = False`` makes every call fail as a down server does; a wrong ``credential``
fails as refused credentials do.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass, field
from typing import BinaryIO

from gateway.errors import AuthenticationError, ItemVanishedError, TransientTransportError
from gateway.transports.base import Capability, Receipt, ReceiptOutcome, check_name, is_transient


@dataclass
class _Entry:
    data: bytes
    complete: bool
    version: int


@dataclass
class MemoryServer:
    credential: str = "secret"
    reachable: bool = True
    inbox: dict[str, _Entry] = field(default_factory=dict)
    processed: dict[str, bytes] = field(default_factory=dict)
    failed: dict[str, bytes] = field(default_factory=dict)
    outbox: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _versions: int = 0

    def drop(self, name: str, data: bytes, *, complete: bool = True) -> None:
        with self.lock:
            self._versions += 1
            self.inbox[name] = _Entry(bytes(data), complete, self._versions)

    def check(self, credential: str) -> None:
        if not self.reachable:
            raise TransientTransportError("the memory server is not reachable")
        if credential != self.credential:
            raise AuthenticationError("the memory server refused the credential")


@dataclass
class MemoryItem:
    channel: str
    partner_id: str | None
    name: str
    size: int
    version: int
    server: MemoryServer
    credential: str
    committed: str | None = field(default=None, init=False)

    @property
    def transport_id(self) -> str:
        return f"memory:{self.name}"

    @property
    def idempotency_key(self) -> str:
        digest = hashlib.sha256(f"{self.name}\0{self.size}\0{self.version}".encode()).hexdigest()[:32]
        return f"memory:{self.channel}:{digest}"

    def open(self) -> BinaryIO:
        self.server.check(self.credential)
        with self.server.lock:
            entry = self.server.inbox.get(self.name)
            if entry is None or entry.version != self.version:
                raise ItemVanishedError(f"{self.name} disappeared before it could be read")
            return io.BytesIO(entry.data)

    def ack(self, error: BaseException | None = None) -> None:
        if is_transient(error):
            return
        self.server.check(self.credential)
        with self.server.lock:
            entry = self.server.inbox.get(self.name)
            if entry is None or entry.version != self.version:
                return  # already committed by an earlier delivery
            del self.server.inbox[self.name]
            (self.server.processed if error is None else self.server.failed)[self.name] = entry.data
            self.committed = ("processed/" if error is None else "failed/") + self.name


class MemoryInbound:
    capabilities = frozenset({Capability.poll})

    def __init__(
        self, server: MemoryServer, *, channel: str, partner_id: str | None = None, credential: str = "secret"
    ) -> None:
        self.server = server
        self.channel = channel
        self.partner_id = partner_id
        self.credential = credential

    def poll(self) -> tuple[list[MemoryItem], float | None]:
        self.server.check(self.credential)
        with self.server.lock:
            entries = sorted(self.server.inbox.items(), key=lambda kv: kv[1].version)
        items = [
            MemoryItem(self.channel, self.partner_id, name, len(e.data), e.version, self.server, self.credential)
            for name, e in entries
            if e.complete and not name.startswith(".")
        ]
        wait = 0.1 if any(not e.complete for _, e in entries) else None
        return items, wait

    def forget(self, item: MemoryItem) -> None:
        pass

    def close(self) -> None:
        pass


class MemoryOutbound:
    capabilities = frozenset({Capability.send, Capability.synchronous_receipt})

    def __init__(self, server: MemoryServer, *, channel: str, credential: str = "secret") -> None:
        self.server = server
        self.channel = channel
        self.credential = credential

    def send(self, name: str, source: BinaryIO) -> Receipt:
        check_name(name)
        self.server.check(self.credential)
        buf = bytearray()
        while chunk := source.read(1 << 16):
            buf += chunk
        self.server.check(self.credential)
        with self.server.lock:  # the whole item appears at once: that is the atomic rename
            self.server.outbox[name] = bytes(buf)
        return Receipt(transport_id=f"memory:{name}", detail={"size": len(buf)}, outcome=ReceiptOutcome.completed)
