"""The partner's side of an SFTP channel on the real loopback OpenSSH server (tests/support/sshd.py)."""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

from gateway.transports.sftp import SftpInbound, SftpOutbound, SftpSettings
from tests.support.sshd import SshServer, free_port
from tests.transports.contract import Harness

_n = itertools.count()


def other_key(base: Path, kind: str = "ed25519") -> Path:
    path = base / f"other_{kind}"
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", kind, "-f", str(path)], check=True)
    return path


def settings_for(server: SshServer, sub: str, **over) -> SftpSettings:  # type: ignore[no-untyped-def]
    base = SftpSettings(
        host="127.0.0.1",
        port=server.port,
        username=server.user,
        private_key=server.client_key.read_text(),
        host_key=f"[127.0.0.1]:{server.port} " + server.host_key_pub.read_text().strip(),
        inbound_dir=f"{sub}/in",
        outbound_dir=f"{sub}/out",
        min_age_seconds=30,
        timeout_seconds=5,
        legacy_algorithms=server.legacy,
    )
    return replace(base, **over)


class SftpHarness(Harness):
    def __init__(self, server: SshServer, **over) -> None:  # type: ignore[no-untyped-def]
        self.server = server
        self.sub = f"t{os.getpid()}-{next(_n)}"
        self.inpath = server.root / self.sub / "in"
        self.outpath = server.root / self.sub / "out"
        self.inpath.mkdir(parents=True)
        self.outpath.mkdir(parents=True)
        self.settings = settings_for(server, self.sub, **over)

    def _settings(self, unreachable: bool, bad_credentials: bool) -> SftpSettings:
        s = self.settings
        if unreachable:
            s = replace(s, port=free_port())
        if bad_credentials:
            kind = "rsa" if self.server.legacy else "ed25519"
            s = replace(s, private_key=other_key(self.server.base, kind).read_text())
        return s

    def inbound(self, *, unreachable=False, bad_credentials=False):
        return SftpInbound(self._settings(unreachable, bad_credentials), channel="p/sftp", partner_id="p")

    def outbound(self, *, unreachable=False, bad_credentials=False):
        return SftpOutbound(self._settings(unreachable, bad_credentials), channel="p/sftp")

    def drop(self, name, data, *, complete=True):
        p = self.inpath / name
        p.write_bytes(data)
        if complete:  # written an hour ago; an incomplete one was modified just now (min_age_seconds is 30)
            t = time.time() - 3600
            os.utime(p, (t, t))

    def inbox(self):
        return {p.name for p in self.inpath.iterdir() if p.is_file()}

    def processed(self):
        d = self.inpath / "processed"
        return {p.name: p.read_bytes() for p in d.iterdir()} if d.is_dir() else {}

    def failed(self):
        d = self.inpath / "failed"
        return {p.name for p in d.iterdir()} if d.is_dir() else set()

    def outbox(self):
        return {p.name: p.read_bytes() for p in self.outpath.iterdir()}
