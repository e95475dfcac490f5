"""The transport contract suite: abstract test classes every transport's tests inherit (model: fsspec's
``fsspec/tests/abstract``). A transport's test module subclasses :class:`InboundContract` and/or
:class:`OutboundContract` and provides a ``harness`` fixture: a :class:`Harness` that plays the partner's side
(drops files, looks at what was committed or sent) against the real server.
"""

from __future__ import annotations

import io
import time
from abc import ABC, abstractmethod
from typing import Any

import pytest

from gateway.errors import (
    AuthenticationError,
    DocumentError,
    PermanentTransportError,
    TransientTransportError,
    TransportError,
    UnsafePathError,
)
from gateway.transports.base import Capability, Outbound, PollingInbound, Receipt

# Bytes that break naive transports: CRLF line ends, the X12 "~" terminator, bytes that are not UTF-8,
# a NUL, and a file without a final newline.
PAYLOADS = {
    "crlf.x12": b"ISA*00*          *00*          *ZZ*SENDER~\r\nGS*SH*A*B~\r\nIEA*1*000000001~\r\n",
    "tilde.edi": b"~~~*~\n~",
    "latin1.txt": "Ærøskøbing ½ café".encode("latin-1") + b"\x00\xff\xfe\x80",
    "all-bytes.bin": bytes(range(256)) * 3,
}


class Harness(ABC):
    """The partner's side of one channel, on the real server the transport talks to."""

    #: False for transports without a server (a local folder): the unreachable/credential tests do not apply.
    networked: bool = True

    @abstractmethod
    def inbound(self, *, unreachable: bool = False, bad_credentials: bool = False) -> PollingInbound: ...

    @abstractmethod
    def outbound(self, *, unreachable: bool = False, bad_credentials: bool = False) -> Outbound: ...

    @abstractmethod
    def drop(self, name: str, data: bytes, *, complete: bool = True) -> None:
        """Put an item in the inbox as the partner does; ``complete=False``: still being written."""

    @abstractmethod
    def inbox(self) -> set[str]: ...

    @abstractmethod
    def processed(self) -> dict[str, bytes]: ...

    @abstractmethod
    def failed(self) -> set[str]: ...

    @abstractmethod
    def outbox(self) -> dict[str, bytes]:
        """Every name visible in the outbound folder (hidden and temporary names too) with its bytes."""


def poll_for(inbound: PollingInbound, names: set[str], timeout: float = 10.0) -> dict[str, Any]:
    """Poll until every name in ``names`` is offered; returns name -> item of the last poll."""
    deadline = time.monotonic() + timeout
    while True:
        items, wait = inbound.poll()
        got = {i.name: i for i in items}
        if names <= set(got) or time.monotonic() > deadline:
            assert names <= set(got), f"never offered: {names - set(got)}"
            return got
        time.sleep(min(wait or 0.05, 0.2))


def read_all(item: Any) -> bytes:
    with item.open() as src:
        return src.read()


class InboundContract:
    @pytest.fixture
    def harness(self) -> Harness:
        raise NotImplementedError("the transport's test class provides the harness fixture")

    def test_declares_poll(self, harness: Harness) -> None:
        inbound = harness.inbound()
        assert Capability.poll in inbound.capabilities
        assert isinstance(inbound, PollingInbound)

    def test_exact_bytes_round_trip(self, harness: Harness) -> None:
        for name, data in PAYLOADS.items():
            harness.drop(name, data)
        inbound = harness.inbound()
        try:
            items = poll_for(inbound, set(PAYLOADS))
            for name, data in PAYLOADS.items():
                assert read_all(items[name]) == data, name
                assert items[name].size == len(data)
        finally:
            inbound.close()

    def test_ack_commits_the_source(self, harness: Harness) -> None:
        harness.drop("ok.x12", b"ISA~ok")
        harness.drop("bad.x12", b"ISA~bad")
        inbound = harness.inbound()
        try:
            items = poll_for(inbound, {"ok.x12", "bad.x12"})
            items["ok.x12"].ack(None)
            items["bad.x12"].ack(DocumentError("rejected"))
        finally:
            inbound.close()
        assert harness.inbox() == set()
        assert harness.processed() == {"ok.x12": b"ISA~ok"}
        assert harness.failed() == {"bad.x12"}
        inbound = harness.inbound()
        try:
            assert inbound.poll()[0] == []  # committed items are never offered again
        finally:
            inbound.close()

    def test_transient_failure_leaves_it_for_redelivery(self, harness: Harness) -> None:
        harness.drop("later.x12", b"ISA~later")
        inbound = harness.inbound()
        try:
            first = poll_for(inbound, {"later.x12"})["later.x12"]
            first.ack(TransientTransportError("archive unavailable"))
            assert harness.inbox() == {"later.x12"}
            again = poll_for(inbound, {"later.x12"})["later.x12"]
            assert again.idempotency_key == first.idempotency_key
            assert read_all(again) == b"ISA~later"
        finally:
            inbound.close()

    def test_at_least_once_across_a_restart(self, harness: Harness) -> None:
        harness.drop("crash.x12", b"ISA~crash")
        before = harness.inbound()
        item = poll_for(before, {"crash.x12"})["crash.x12"]
        assert read_all(item) == b"ISA~crash"
        key = item.idempotency_key
        del before  # the process dies before acking: no close(), no ack
        after = harness.inbound()
        try:
            again = poll_for(after, {"crash.x12"})["crash.x12"]
            assert again.idempotency_key == key
            again.ack(None)
        finally:
            after.close()
        assert harness.processed() == {"crash.x12": b"ISA~crash"}

    def test_partial_items_are_not_picked_up(self, harness: Harness) -> None:
        harness.drop("writing.x12", b"ISA~half", complete=False)
        harness.drop("done.x12", b"ISA~whole")
        inbound = harness.inbound()
        try:
            items = poll_for(inbound, {"done.x12"})
            assert "writing.x12" not in items
            items = poll_for(inbound, {"done.x12"})
            assert "writing.x12" not in items
        finally:
            inbound.close()
        assert "writing.x12" in harness.inbox()

    def test_same_remote_item_keeps_its_idempotency_key(self, harness: Harness) -> None:
        harness.drop("a.x12", b"ISA~one")
        harness.drop("b.x12", b"ISA~two")
        first = harness.inbound()
        try:
            k1 = {n: i.idempotency_key for n, i in poll_for(first, {"a.x12", "b.x12"}).items()}
        finally:
            first.close()
        second = harness.inbound()
        try:
            k2 = {n: i.idempotency_key for n, i in poll_for(second, {"a.x12", "b.x12"}).items()}
        finally:
            second.close()
        assert k1 == k2
        assert k1["a.x12"] != k1["b.x12"]

    def test_unreachable_server_is_transient(self, harness: Harness) -> None:
        if not harness.networked:
            pytest.skip("no server: a local folder cannot be unreachable")
        inbound = harness.inbound(unreachable=True)
        with pytest.raises(TransientTransportError):
            inbound.poll()
        inbound.close()

    def test_bad_credentials_are_permanent(self, harness: Harness) -> None:
        if not harness.networked:
            pytest.skip("no server: a local folder has no credentials")
        inbound = harness.inbound(bad_credentials=True)
        with pytest.raises(PermanentTransportError) as info:
            inbound.poll()
        assert isinstance(info.value, AuthenticationError)
        inbound.close()


class _Watching(io.RawIOBase):
    """A source that, while being read, looks at the target folder: the final name must never appear early."""

    def __init__(self, data: bytes, harness: Harness, name: str, fail_at: int | None = None) -> None:
        self.data, self.harness, self.name, self.fail_at = data, harness, name, fail_at
        self.pos = 0
        self.looks = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        visible = self.harness.outbox()
        self.looks += 1
        assert self.name not in visible, "the final name is visible before the whole file is written"
        if self.fail_at is not None and self.pos >= self.fail_at:
            raise OSError("source read failed")
        n = min(len(buf), 64 * 1024, len(self.data) - self.pos)
        buf[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


class OutboundContract:
    @pytest.fixture
    def harness(self) -> Harness:
        raise NotImplementedError("the transport's test class provides the harness fixture")

    def test_declares_send(self, harness: Harness) -> None:
        out = harness.outbound()
        assert Capability.send in out.capabilities
        assert isinstance(out, Outbound)

    def test_exact_bytes_round_trip(self, harness: Harness) -> None:
        out = harness.outbound()
        for name, data in PAYLOADS.items():
            receipt = out.send(name, io.BytesIO(data))
            assert isinstance(receipt, Receipt) and receipt.transport_id
        assert harness.outbox() == PAYLOADS

    def test_send_is_atomic(self, harness: Harness) -> None:
        data = bytes(range(256)) * 2048  # 512 KiB: many reads, each looks at the target folder
        source = _Watching(data, harness, "big.x12")
        harness.outbound().send("big.x12", source)
        assert source.looks > 2
        assert harness.outbox() == {"big.x12": data}

    def test_failed_send_leaves_nothing_visible(self, harness: Harness) -> None:
        source = _Watching(b"x" * 300_000, harness, "broken.x12", fail_at=100_000)
        with pytest.raises((TransportError, OSError)):
            harness.outbound().send("broken.x12", source)
        assert harness.outbox() == {}

    @pytest.mark.parametrize("name", ["../escape.x12", "a/b.x12", ".hidden", "..", "", "x\\y", "nl\n.x12"])
    def test_unsafe_names_are_refused(self, harness: Harness, name: str) -> None:
        with pytest.raises(UnsafePathError):
            harness.outbound().send(name, io.BytesIO(b"ISA~"))
        assert harness.outbox() == {}

    def test_unreachable_server_is_transient(self, harness: Harness) -> None:
        if not harness.networked:
            pytest.skip("no server: a local folder cannot be unreachable")
        with pytest.raises(TransientTransportError):
            harness.outbound(unreachable=True).send("a.x12", io.BytesIO(b"ISA~"))

    def test_bad_credentials_are_permanent(self, harness: Harness) -> None:
        if not harness.networked:
            pytest.skip("no server: a local folder has no credentials")
        with pytest.raises(PermanentTransportError):
            harness.outbound(bad_credentials=True).send("a.x12", io.BytesIO(b"ISA~"))
        assert harness.outbox() == {}
