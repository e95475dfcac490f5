"""The reference transport passes the contract suite."""

from __future__ import annotations

import pytest

from gateway.transports.memory import MemoryInbound, MemoryOutbound, MemoryServer
from tests.transports.contract import Harness, InboundContract, OutboundContract


class MemoryHarness(Harness):
    def __init__(self) -> None:
        self.server = MemoryServer(credential="right")

    def _server(self, unreachable: bool) -> MemoryServer:
        if unreachable:
            return MemoryServer(credential="right", reachable=False)
        return self.server

    def inbound(self, *, unreachable=False, bad_credentials=False):
        cred = "wrong" if bad_credentials else "right"
        return MemoryInbound(self._server(unreachable), channel="p/mem", partner_id="p", credential=cred)

    def outbound(self, *, unreachable=False, bad_credentials=False):
        cred = "wrong" if bad_credentials else "right"
        return MemoryOutbound(self._server(unreachable), channel="p/mem", credential=cred)

    def drop(self, name, data, *, complete=True):
        self.server.drop(name, data, complete=complete)

    def inbox(self):
        return set(self.server.inbox)

    def processed(self):
        return dict(self.server.processed)

    def failed(self):
        return set(self.server.failed)

    def outbox(self):
        return dict(self.server.outbox)


class TestMemoryInbound(InboundContract):
    @pytest.fixture
    def harness(self):
        return MemoryHarness()


class TestMemoryOutbound(OutboundContract):
    @pytest.fixture
    def harness(self):
        return MemoryHarness()
