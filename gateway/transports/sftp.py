"""SFTP channels: poll a partner's remote folder, and push files to it (connection details in sftp_session.py).

Inbound, on each poll: list ``inbound_dir`` (one connection for the listing and every item of that poll), offer
regular files that match ``pattern`` and are complete. Complete means: not a hidden or temporary name, at least
``min_age_seconds`` old by the server's modification time, and, when ``stable_size`` is set, the same size and
time as on the previous poll; with ``done_suffix`` (e.g. ``.done``), only a file whose ``<name><done_suffix>``
marker exists. After the flow has archived and processed an item, ``ack`` moves it to ``processed_dir`` (or
deletes it, with ``after_pickup: delete``); a permanent failure moves it to ``<inbound_dir>/failed``; a transient
failure leaves it for the next poll. Symlinks, folders and names that are not one plain path component are never
offered: nothing outside the configured folder is read or moved.

Outbound: the file is written as ``.<name>.part`` in ``outbound_dir`` then renamed (POSIX rename when the server
has it), so the partner never sees half a file; a failed upload removes the temporary file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import stat
import threading
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

import paramiko

from gateway.errors import (
    ItemVanishedError,
    PermanentTransportError,
    RemoteFullError,
    TransportError,
    UnsafePathError,
)
from gateway.logging import get_logger
from gateway.transports.base import Capability, Receipt, ReceiptOutcome, check_name, is_transient
from gateway.transports.sftp_session import SftpSession, translate

log = get_logger(__name__)

TEMP_SUFFIXES = (".part", ".tmp", ".filepart", ".partial")
READ_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class SftpSettings:
    """One SFTP channel; secrets (password, private_key) arrive already resolved and never show in ``repr``."""

    host: str
    username: str
    port: int = 22
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)  # OpenSSH/PEM private key text
    passphrase: str | None = field(default=None, repr=False)
    host_key: str | None = None  # pinned known_hosts line
    host_keys: tuple[str, ...] = ()  # more accepted keys, for a rollover
    inbound_dir: str = "."
    outbound_dir: str = "."
    pattern: str = "*"
    min_age_seconds: float = 30.0
    stable_size: bool = False
    done_suffix: str | None = None
    after_pickup: Literal["move", "delete"] = "move"
    processed_dir: str | None = None  # default <inbound_dir>/processed
    poll: float = 300.0  # seconds between polls
    timeout_seconds: float = 30.0
    legacy_algorithms: bool = False

    @property
    def processed(self) -> str:
        return self.processed_dir or posixpath.join(self.inbound_dir, "processed")

    @property
    def failed(self) -> str:
        return posixpath.join(self.inbound_dir, "failed")


def confined(folder: str, name: str) -> str:
    """``folder/name`` for a plain name; anything that would leave the folder raises :class:`UnsafePathError`."""
    check_name(name)
    path = posixpath.normpath(posixpath.join(folder, name))
    if posixpath.dirname(path) != posixpath.normpath(folder):
        raise UnsafePathError(f"{name!r} is outside {folder!r}")
    return path


def start_prefetch(remote, size: int) -> None:  # type: ignore[no-untyped-def]
    """Ask for the whole file ahead of reading it (paramiko's prefetch), safely.

    paramiko issues the read requests from a thread of its own. When the connection drops while that thread is
    still issuing them (a large file, a loaded machine), its write raises ``EOFError`` (or ``OSError``) and the
    thread dies with an unhandled exception. The loss is the reader's to report, not that thread's: it is caught
    there and kept on the file, so the next read raises it, translated to :class:`ConnectionLostError`.
    """
    issue = remote._prefetch_thread

    def guarded(*args: object) -> None:
        try:
            issue(*args)
        except (EOFError, OSError, paramiko.SSHException) as exc:
            remote._saved_exception = paramiko.SSHException(f"connection lost while requesting the file: {exc!r}")
            log.debug("sftp.prefetch_stopped", extra={"fields": {"error": type(exc).__name__}})

    remote._prefetch_thread = guarded
    remote.prefetch(size)


class _Download:
    """The remote file as a read-only stream; a lost connection mid-read becomes ConnectionLostError."""

    def __init__(self, remote, what: str) -> None:  # type: ignore[no-untyped-def]
        self.remote = remote
        self.what = what

    def read(self, n: int = -1) -> bytes:
        try:
            return bytes(self.remote.read(None if n is None or n < 0 else n))
        except Exception as exc:
            raise translate(exc, self.what) from exc

    def close(self) -> None:
        try:
            self.remote.close()
        except Exception:  # the connection may already be gone; the read error (if any) was reported
            log.debug("sftp.close_failed")

    def __enter__(self) -> _Download:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class SftpItem:
    channel: str
    partner_id: str | None
    name: str
    path: str
    size: int
    mtime: int
    inbound: SftpInbound
    committed: str | None = field(default=None, init=False)

    @property
    def transport_id(self) -> str:
        return f"{self.inbound.where}/{self.path}"

    @property
    def idempotency_key(self) -> str:
        s = self.inbound.settings
        raw = f"{s.host}:{s.port}:{s.username}:{self.path}:{self.size}:{self.mtime}"
        return f"sftp:{self.channel}:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"

    def open(self) -> BinaryIO:
        session = self.inbound.session()
        what = f"{self.inbound.where}/{self.path}"
        try:
            remote = session.sftp.open(self.path, "rb")
            start_prefetch(remote, self.size)
        except Exception as exc:
            error = translate(exc, what)
            if isinstance(error, ItemVanishedError):
                error = ItemVanishedError(f"{what} disappeared between listing and download")
            raise error from exc
        return _Download(remote, what)  # type: ignore[return-value]

    def ack(self, error: BaseException | None = None) -> None:
        if is_transient(error):
            return
        self.committed = self.inbound.commit(self, failed=error is not None)


@dataclass
class _Look:
    size: int
    mtime: int


class SftpInbound:
    capabilities = frozenset({Capability.poll})

    def __init__(self, settings: SftpSettings, *, channel: str, partner_id: str | None = None) -> None:
        self.settings = settings
        self.channel = channel
        self.partner_id = partner_id
        self.where = f"sftp://{settings.username}@{settings.host}:{settings.port}"
        self._session: SftpSession | None = None
        self._looks: dict[str, _Look] = {}
        self._lock = threading.RLock()

    # -- connection: one per poll, shared by the poll's items ----------------------------------------------
    def session(self) -> SftpSession:
        with self._lock:
            if self._session is None or not self._session.alive:
                self.close()
                self._session = SftpSession.open(self.settings)
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                session, self._session = self._session, None
                session.close()

    # -- polling ---------------------------------------------------------------------------------------
    def poll(self) -> tuple[list[SftpItem], float | None]:
        s = self.settings
        session = self.session()
        try:
            entries = session.sftp.listdir_attr(s.inbound_dir)
        except Exception as exc:
            self.close()
            raise translate(exc, f"{self.where}/{s.inbound_dir}") from exc
        names = {e.filename for e in entries}
        now = time.time()
        ready: list[SftpItem] = []
        wait: float | None = None
        seen: set[str] = set()
        for e in entries:
            name = e.filename
            if not self._candidate(name, e.st_mode):
                continue
            if s.done_suffix and name + s.done_suffix not in names:
                continue
            try:
                path = confined(s.inbound_dir, name)
            except UnsafePathError as exc:
                log.warning("sftp.unsafe_name", extra={"fields": {"channel": self.channel, "error": str(exc)}})
                continue
            size, mtime = int(e.st_size or 0), int(e.st_mtime or 0)
            seen.add(name)
            left = s.min_age_seconds - (now - mtime)
            if s.stable_size:
                look = self._looks.get(name)
                self._looks[name] = _Look(size, mtime)
                if look is None or (look.size, look.mtime) != (size, mtime):
                    left = max(left, s.poll if s.poll > 0 else 1.0)
            if left > 0:
                wait = left if wait is None else min(wait, left)
                continue
            ready.append(SftpItem(self.channel, self.partner_id, name, path, size, mtime, self))
        for gone in set(self._looks) - seen:
            del self._looks[gone]
        ready.sort(key=lambda i: (i.mtime, i.name))
        return ready, wait

    def _candidate(self, name: str, mode: int | None) -> bool:
        s = self.settings
        if mode is None or not stat.S_ISREG(mode):  # folders, symlinks (lstat), devices: never
            return False
        if name.startswith(".") or name.endswith(TEMP_SUFFIXES):
            return False
        if s.done_suffix and name.endswith(s.done_suffix):
            return False
        return fnmatch.fnmatchcase(name, s.pattern)

    def forget(self, item: SftpItem) -> None:
        pass  # stable-size looks are kept across polls on purpose

    # -- commit ----------------------------------------------------------------------------------------
    def commit(self, item: SftpItem, *, failed: bool) -> str | None:
        s = self.settings
        session = self.session()
        sftp = session.sftp
        marker = item.path + s.done_suffix if s.done_suffix else None
        try:
            if not failed and s.after_pickup == "delete":
                sftp.remove(item.path)
                target = None
            else:
                target = _move_into(sftp, item.path, s.failed if failed else s.processed, item.name)
            if marker is not None:
                try:
                    sftp.remove(marker)
                except FileNotFoundError:
                    pass
        except FileNotFoundError:
            return None  # already committed by an earlier delivery, or by another gateway process
        except Exception as exc:
            raise translate(exc, f"{self.where}/{item.path}: commit") from exc
        self._looks.pop(item.name, None)
        return f"{self.where}/{target}" if target else f"deleted {self.where}/{item.path}"


def _move_into(sftp, path: str, folder: str, name: str) -> str:  # type: ignore[no-untyped-def]
    """Rename ``path`` into ``folder`` under a name that does not exist there yet (never overwrite an earlier
    file). SFTP renames refuse an existing target, so a lost race for a name just tries the next one; a source
    that is gone was committed by someone else (FileNotFoundError)."""
    try:
        sftp.mkdir(folder)
    except OSError:
        sftp.stat(folder)  # it exists (or a concurrent commit made it); anything else raises here
    stem, dot, suffix = name.partition(".")
    for n in range(1000):
        candidate = confined(folder, name if n == 0 else (f"{stem}.{n}{dot}{suffix}" if dot else f"{name}.{n}"))
        try:
            sftp.stat(candidate)
            continue
        except FileNotFoundError:
            pass
        try:
            sftp.rename(path, candidate)
            return candidate
        except OSError:
            sftp.stat(path)  # raises FileNotFoundError when another process committed it meanwhile
    raise PermanentTransportError(f"{folder} holds 1000 files named like {name}: clean it up")


class SftpOutbound:
    capabilities = frozenset({Capability.send})

    def __init__(self, settings: SftpSettings, *, channel: str) -> None:
        self.settings = settings
        self.channel = channel
        self.where = f"sftp://{settings.username}@{settings.host}:{settings.port}"

    def send(self, name: str, source: BinaryIO) -> Receipt:
        final = confined(self.settings.outbound_dir, name)
        tmp = posixpath.join(posixpath.dirname(final), f".{name}.part")  # name is checked: one plain component
        session = SftpSession.open(self.settings)
        try:
            return self._upload(session, source, tmp, final)
        finally:
            session.close()

    def _upload(self, session: SftpSession, source: BinaryIO, tmp: str, final: str) -> Receipt:
        sftp, what = session.sftp, f"{self.where}/{final}"
        size = 0
        local_failure = False  # an error reading our own source is ours, not the server's
        try:
            with sftp.open(tmp, "wb") as remote:
                remote.set_pipelined(True)
                while True:
                    local_failure = True
                    chunk = source.read(READ_CHUNK)
                    local_failure = False
                    if not chunk:
                        break
                    remote.write(chunk)
                    size += len(chunk)
            if sftp.stat(tmp).st_size != size:
                raise RemoteFullError(f"{what}: the server kept fewer bytes than were sent (disk or quota full?)")
            _rename(sftp, tmp, final)
        except BaseException as exc:
            try:
                sftp.remove(tmp)
            except Exception:  # the connection may be gone; a stale .part is hidden and ignored by pickups
                log.warning("sftp.temp_left", extra={"fields": {"path": tmp}})
            if local_failure or isinstance(exc, TransportError) or not isinstance(exc, Exception):
                raise
            raise translate(exc, what, writing=True) from exc
        return Receipt(transport_id=what, detail={"size": size}, outcome=ReceiptOutcome.completed)


def _rename(sftp, tmp: str, final: str) -> None:  # type: ignore[no-untyped-def]
    """Atomic replace where the server supports it (OpenSSH's posix-rename), plain rename otherwise."""
    try:
        sftp.posix_rename(tmp, final)
    except OSError as exc:
        if "unsupported" not in str(exc).lower():
            raise
        try:
            sftp.remove(final)
        except FileNotFoundError:
            pass
        sftp.rename(tmp, final)
