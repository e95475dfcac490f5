"""A throw-away OpenSSH server on 127.0.0.1 (the recipe of shared/interop/sftp), started by the tests.

``SshServer.start(base, legacy=False)`` writes host and client keys and an sshd_config into ``base``, starts
``sshd -D`` on a free port and waits until it answers. ``legacy=True`` configures a server as old partner
servers are: only an ssh-rsa host key, and SHA-1 key exchange and host-key algorithms.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def sshd_available() -> str | None:
    if not Path(SSHD).is_file():
        return "OpenSSH sshd is not installed (apt-get install openssh-server)"
    if not shutil.which("ssh-keygen"):
        return "ssh-keygen is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path, kind: str) -> None:
    if not path.exists():
        args = ["ssh-keygen", "-q", "-N", "", "-f", str(path), "-t", kind]
        if kind == "rsa":
            args += ["-b", "2048"]
        subprocess.run(args, check=True)
        path.chmod(0o600)


@dataclass
class SshServer:
    base: Path
    port: int
    user: str
    root: Path  # the folder the SFTP user sees as its home ("data")
    host_key_pub: Path
    client_key: Path
    proc: subprocess.Popen[bytes]
    legacy: bool
    log: IO[bytes]

    @classmethod
    def start(cls, base: Path, *, legacy: bool = False, password: str | None = None) -> SshServer:
        base.mkdir(parents=True, exist_ok=True)
        data = base / "data"
        data.mkdir(exist_ok=True)
        host_kind = "rsa" if legacy else "ed25519"
        host_key = base / f"host_{host_kind}"
        client_key = base / "client_key"
        _keygen(host_key, host_kind)
        _keygen(client_key, "rsa" if legacy else "ed25519")
        shutil.copy(f"{client_key}.pub", base / "authorized_keys")
        (base / "authorized_keys").chmod(0o600)
        port = free_port()
        lines = [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {host_key}",
            f"PidFile {base / 'sshd.pid'}",
            f"AuthorizedKeysFile {base / 'authorized_keys'}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "PermitRootLogin prohibit-password",
            f"Subsystem sftp internal-sftp -l INFO -d {data}",
            "LogLevel VERBOSE",
        ]
        if legacy:
            lines += [
                "HostKeyAlgorithms ssh-rsa",
                "PubkeyAcceptedAlgorithms +ssh-rsa",
                "KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group1-sha1",
                "Ciphers aes128-ctr,aes256-ctr,aes128-cbc",
                "MACs hmac-sha1",
            ]
        (base / "sshd_config").write_text("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        subprocess.run([SSHD, "-t", "-f", str(base / "sshd_config")], check=True, capture_output=True)
        log = open(base / "sshd.log", "wb")  # noqa: SIM115 - lives as long as the server
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(base / "sshd_config")], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            proc.kill()
            proc.wait()
            log.close()
            raise RuntimeError(f"sshd did not start: {(base / 'sshd.log').read_text(errors='replace')[-2000:]}")
        return cls(base, port, getpass.getuser(), data, Path(f"{host_key}.pub"), client_key, proc, legacy, log)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
