"""Which paramiko talks to which OpenSSH server: run with the Python of a virtualenv holding the paramiko to test.

    python3 -m venv /tmp/pm5 && /tmp/pm5/bin/pip install paramiko==5.1.0
    /tmp/pm5/bin/python scripts/sftp_interop.py

Starts the test suite's modern and legacy (ssh-rsa host key, SHA-1 key exchange) OpenSSH servers on loopback and
tries a key exchange, public-key login and an SFTP listing against each, with paramiko's defaults.
"""

from __future__ import annotations

import socket
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paramiko

from tests.support.sshd import SshServer


def probe(legacy: bool) -> str:
    server = SshServer.start(Path(tempfile.mkdtemp(prefix="interop-")), legacy=legacy)
    transport = None
    try:
        transport = paramiko.Transport(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        transport.banner_timeout = 5
        transport.start_client(timeout=5)
        key_cls = paramiko.RSAKey if legacy else paramiko.Ed25519Key
        transport.auth_publickey(server.user, key_cls.from_private_key_file(str(server.client_key)))
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        sftp.listdir(".")
        kex = transport.remote_version
        return (
            f"works (host key {transport.get_remote_server_key().get_name()}, cipher {transport.remote_cipher}, "
            f"mac {transport.remote_mac}; server {kex})"
        )
    except Exception as exc:
        return f"FAILS: {type(exc).__name__}: {exc}"
    finally:
        if transport is not None:
            transport.close()
        server.stop()


if __name__ == "__main__":
    print(f"paramiko {paramiko.__version__}")
    print(f"  modern server: {probe(False)}")
    print(f"  legacy server: {probe(True)}")
