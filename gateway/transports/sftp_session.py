"""One SFTP connection (paramiko), opened with every safety the gateway insists on.

- **Pinned host keys.** The server's key must equal one of the channel's ``host_key``/``host_keys``
  (known_hosts lines; a second line allows a key rollover). An unknown or changed key refuses the connection
  with :class:`HostKeyError`; nothing is ever added automatically, and no ``~/.ssh/known_hosts`` is read.
- **A timeout on every call**: TCP connect, SSH banner, key exchange, authentication, and each SFTP request
  (the channel timeout), all from ``timeout_seconds``.
- **Modern algorithms only unless asked.** SHA-1 key exchange, ``ssh-rsa`` (SHA-1) signatures, SHA-1/MD5 MACs
  and CBC ciphers are disabled unless the channel sets ``legacy_algorithms: true`` for an old partner server.
- **Foreign errors translated once**, here, into the gateway's transport errors: refused/timed-out connections
  are transient, host-key, credential and algorithm mismatches are permanent.
"""

from __future__ import annotations

import base64
import binascii
import errno
import io
import socket
from typing import Any

import paramiko

from gateway.errors import (
    AuthenticationError,
    ConnectionLostError,
    HostKeyError,
    ItemVanishedError,
    PermanentTransportError,
    RemoteFullError,
    TransientTransportError,
    TransportError,
)

# What a server must offer unless the channel opts into legacy algorithms (SHA-1, CBC, MD5).
LEGACY_ONLY: dict[str, list[str]] = {
    "kex": ["diffie-hellman-group-exchange-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1"],
    "keys": ["ssh-rsa"],
    "pubkeys": ["ssh-rsa"],
    "macs": ["hmac-sha1", "hmac-md5", "hmac-sha1-96", "hmac-md5-96"],
    "ciphers": ["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"],
}

_KEY_TYPES = ("ssh-", "ecdsa-", "sk-")


def parse_host_key(line: str) -> tuple[str, bytes]:
    """``(key type, key blob)`` from a known_hosts line (``[host]:port type base64 [comment]``) or a bare
    ``type base64`` pair."""
    tokens = line.split()
    for i, tok in enumerate(tokens[:-1]):
        if tok.startswith(_KEY_TYPES):
            try:
                return tok, base64.b64decode(tokens[i + 1], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise HostKeyError(f"the pinned host key {tok} is not valid base64") from exc
    raise HostKeyError(f"cannot read a host key from {line[:60]!r}: expected a known_hosts line")


def _host_key_algorithms(pinned: list[tuple[str, bytes]], legacy: bool) -> list[str]:
    names: list[str] = []
    for kind, _ in pinned:
        if kind == "ssh-rsa":
            names += ["rsa-sha2-512", "rsa-sha2-256"] + (["ssh-rsa"] if legacy else [])
        else:
            names.append(kind)
    return list(dict.fromkeys(names))


def load_private_key(text: str, passphrase: str | None = None) -> paramiko.PKey:
    errors = []
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase)
        except (paramiko.SSHException, ValueError) as exc:
            errors.append(f"{cls.__name__}: {exc}")
    raise AuthenticationError("the private key cannot be read (expected an OpenSSH or PEM ed25519/ECDSA/RSA key)")


def translate(exc: BaseException, what: str, *, writing: bool = False) -> TransportError:
    """A paramiko/socket/SFTP error as the gateway's typed transport error."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, paramiko.AuthenticationException):
        return AuthenticationError(f"{what}: the server refused the credentials ({exc})")
    if isinstance(exc, paramiko.ssh_exception.IncompatiblePeer):
        return PermanentTransportError(
            f"{what}: no common SSH algorithm with the server ({exc})",
            hint="an old server may need legacy_algorithms: true on the channel (SHA-1 key exchange, ssh-rsa)",
        )
    if isinstance(exc, FileNotFoundError) or (isinstance(exc, OSError) and exc.errno == errno.ENOENT):
        return ItemVanishedError(f"{what}: no such file on the server")
    if isinstance(exc, PermissionError) or (isinstance(exc, OSError) and exc.errno == errno.EACCES):
        return PermanentTransportError(
            f"{what}: permission denied by the server",
            hint="ask the partner to grant the account read/write access to the folder",
        )
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return TransientTransportError(f"{what}: timed out")
    if isinstance(exc, (EOFError, paramiko.SSHException, ConnectionError)):
        return ConnectionLostError(f"{what}: the connection was lost ({exc or type(exc).__name__})")
    if writing and isinstance(exc, OSError) and exc.errno is None and "Failure" in str(exc):
        # SFTP v3 has no "disk full" status: OpenSSH answers a failed write (ENOSPC, EDQUOT) with a bare failure
        return RemoteFullError(f"{what}: the server failed the write (its disk or quota is probably full)")
    if isinstance(exc, OSError):
        return TransientTransportError(f"{what}: {exc.strerror or exc}")
    return TransientTransportError(f"{what}: {type(exc).__name__}: {exc}")


class SftpSession:
    """A connected, authenticated SFTP session. Use :meth:`open` and close it when the poll or send is done."""

    def __init__(self, transport: paramiko.Transport, sftp: paramiko.SFTPClient, where: str) -> None:
        self.transport = transport
        self.sftp = sftp
        self.where = where

    @property
    def alive(self) -> bool:
        return self.transport.is_active()

    def close(self) -> None:
        try:
            self.sftp.close()
        except (EOFError, OSError, paramiko.SSHException):
            pass  # the connection is already gone: closing it is all that was asked
        finally:
            self.transport.close()

    @classmethod
    def open(cls, settings: Any) -> SftpSession:
        """``settings``: an SftpSettings (see sftp.py)."""
        where = f"sftp://{settings.username}@{settings.host}:{settings.port}"
        pinned = [parse_host_key(line) for line in (settings.host_key, *settings.host_keys) if line]
        if not pinned:
            raise HostKeyError(f"{where}: no host key is pinned for the channel; the gateway never trusts on first use")
        timeout = settings.timeout_seconds
        try:
            sock = socket.create_connection((settings.host, settings.port), timeout=timeout)
        except OSError as exc:
            raise TransientTransportError(f"{where}: cannot connect ({exc.strerror or exc})") from exc
        disabled = {} if settings.legacy_algorithms else LEGACY_ONLY
        transport = paramiko.Transport(sock, disabled_algorithms=disabled)
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        try:
            wanted = _host_key_algorithms(pinned, settings.legacy_algorithms)
            options = transport.get_security_options()
            options.key_types = [k for k in wanted if k in options.key_types] or options.key_types
            try:
                transport.start_client(timeout=timeout)
            except paramiko.SSHException as exc:
                if isinstance(exc, paramiko.ssh_exception.IncompatiblePeer):
                    raise
                raise TransientTransportError(f"{where}: SSH handshake failed ({exc})") from exc
            key = transport.get_remote_server_key()
            if not any(blob == key.asbytes() for _, blob in pinned):
                raise HostKeyError(
                    f"{where}: the server's {key.get_name()} host key (SHA256:"
                    f"{base64.b64encode(_sha256(key.asbytes())).decode().rstrip('=')}) is not the pinned one"
                )
            cls._authenticate(transport, settings, where)
            sftp = paramiko.SFTPClient.from_transport(transport)
            if sftp is None:
                raise TransientTransportError(f"{where}: the server did not open the sftp subsystem")
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(timeout)
        except BaseException as exc:
            transport.close()
            if isinstance(exc, (TransportError, KeyboardInterrupt)):
                raise
            raise translate(exc, where) from exc
        return cls(transport, sftp, where)

    @staticmethod
    def _authenticate(transport: paramiko.Transport, settings: Any, where: str) -> None:
        try:
            if settings.private_key:
                pkey = load_private_key(settings.private_key, settings.passphrase)
                transport.auth_publickey(settings.username, pkey)
            elif settings.password:
                transport.auth_password(settings.username, settings.password)
            else:
                raise AuthenticationError(f"{where}: the channel has neither a password nor a private key")
        except paramiko.AuthenticationException as exc:
            raise AuthenticationError(f"{where}: the server refused the credentials ({exc})") from exc
        if not transport.is_authenticated():
            raise AuthenticationError(f"{where}: authentication did not complete")


def _sha256(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()
