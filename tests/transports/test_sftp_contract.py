"""SFTP passes the contract suite against a real OpenSSH server, modern and legacy (ssh-rsa, SHA-1 kex)."""

from __future__ import annotations

import pytest

from tests.support.services import unavailable
from tests.support.sshd import SshServer, sshd_available
from tests.transports.contract import InboundContract, OutboundContract
from tests.transports.sftp_support import SftpHarness

pytestmark = pytest.mark.sftp


@pytest.fixture(scope="session")
def legacy_sshd(tmp_path_factory):
    reason = sshd_available()
    if reason:
        unavailable(reason)
    server = SshServer.start(tmp_path_factory.mktemp("sshd-legacy"), legacy=True)
    yield server
    server.stop()


@pytest.fixture(params=["modern", "legacy"])
def server(request):
    return request.getfixturevalue("sshd_server" if request.param == "modern" else "legacy_sshd")


class TestSftpInbound(InboundContract):
    @pytest.fixture
    def harness(self, server):
        return SftpHarness(server)


class TestSftpOutbound(OutboundContract):
    @pytest.fixture
    def harness(self, server):
        return SftpHarness(server)
