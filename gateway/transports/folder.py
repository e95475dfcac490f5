"""Local folder channels.

Inbound: files dropped in ``<path>`` are picked up only when complete: the name is not a temporary one
(``.part``, ``.tmp``, dot-files ...), and the size and modification time were the same on two looks at least
``min_age_seconds`` apart (the file-system watcher only wakes the poll up early; it never decides). After
processing, the file moves to ``<path>/processed/`` (or ``<path>/failed/``); names that already exist there get a
numeric suffix, so nothing is ever overwritten or deleted.

Several nodes on one inbox (``claims``): a complete file is first renamed into the node's working folder
``<path>/.claimed/<node id>/`` and processed from there, so each file is taken by one node; a dead node's claims
are taken over by another once its lease is stale (see transports/claims.py).

Outbound: a file is written as ``.<name>.<random>.tmp`` in the target folder, flushed and fsynced, then renamed, so a
partner's pickup never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gateway.errors import PermanentTransportError, TransientTransportError
from gateway.failpoints import FailPoints
from gateway.transports.base import Capability, Receipt, ReceiptOutcome, check_name, is_transient
from gateway.transports.claims import KEEPER, ClaimSpace, Share

PROCESSED = "processed"
FAILED = "failed"


CLAIM_BATCH = 100  # files a node claims in one poll of a shared folder: the nodes share a burst between them (one
# poll is taken through the inbound flow in batches, gateway/flows/polling.py: a small claim makes small batches)
NAME_MAX = 255  # bytes in one file name (Linux file systems)
_OUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)  # as open(path, "wb")


def _fit(stem: str, tail: str, limit: int = NAME_MAX) -> str:
    """``stem + tail`` cut in the stem so that it is at most ``limit`` bytes in UTF-8 (the tail is kept)."""
    room = limit - len(tail.encode())
    raw = stem.encode()
    if len(raw) > room:
        stem = raw[: max(room, 1)].decode("utf-8", "ignore")
    return stem + tail


def _unique_target(folder: Path, name: str) -> Path:
    """``folder/name``, or with a numeric suffix when taken; a name at the length limit is shortened to make room
    for the suffix (a 255-byte name that collides must not fail the commit with "File name too long")."""
    target = folder / name
    n = 1
    while target.exists():
        stem, dot, suffix = name.partition(".")
        tail = f".{n}{dot}{suffix}" if dot else f".{n}"
        if len(tail.encode()) > NAME_MAX // 2:  # a very long extension: number the whole name instead
            stem, tail = name, f".{n}"
        target = folder / _fit(stem, tail)
        n += 1
    return target


@dataclass
class FolderItem:
    channel: str
    partner_id: str | None
    path: Path
    size: int
    mtime_ns: int
    inbox: Path
    origin: Path | None = None  # where a claimed file was in the inbox (``path`` is then in the working folder)
    committed: Path | None = field(default=None, init=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def transport_id(self) -> str:
        return str(self.origin or self.path)

    @property
    def idempotency_key(self) -> str:
        """The inbox path, size and mtime: the same whichever node claimed the file (a rename keeps the mtime)."""
        return f"folder:{self.origin or self.path}:{self.size}:{self.mtime_ns}"

    def open(self) -> BinaryIO:
        try:
            return open(self.path, "rb")
        except FileNotFoundError as exc:
            raise TransientTransportError(f"{self.path} disappeared before it could be read") from exc
        except OSError as exc:
            raise PermanentTransportError(f"cannot read {self.path}: {exc.strerror}") from exc

    def ack(self, error: BaseException | None = None) -> None:
        """Commit: move to processed/ on success, to failed/ on a permanent error; leave it on a transient one."""
        if is_transient(error):
            return
        folder = self.inbox / (PROCESSED if error is None else FAILED)
        target = _unique_target(folder, self.name)
        try:
            os.replace(self.path, target)
        except FileNotFoundError:
            if not self.path.exists():
                return  # already committed (a resumed message, or someone else meanwhile): nothing to do
            folder.mkdir(parents=True, exist_ok=True)  # only when missing: no mkdir call per file
            os.replace(self.path, target)
        self.committed = target


@dataclass
class _Look:
    signature: tuple[int, int]
    first_seen: float


class FolderInbound:
    capabilities = frozenset({Capability.poll})

    def __init__(
        self,
        *,
        channel: str,
        path: Path,
        partner_id: str | None = None,
        min_age_seconds: float = 1.0,
        ignore_suffixes: tuple[str, ...] = (".tmp", ".part"),
        claim_node: str | None = None,
        claim_stale_seconds: float = 60.0,
        claim_gone: Callable[[], set[str]] | None = None,
        claim_share: Share | None = None,
        failpoints: FailPoints | None = None,
    ) -> None:
        self.channel = channel
        self.partner_id = partner_id
        self.path = Path(path)
        self.min_age = min_age_seconds
        self.ignore_suffixes = tuple(ignore_suffixes)
        self._looks: dict[str, _Look] = {}
        self._lock = threading.Lock()
        # several nodes on this folder: claim each file into this node's working folder first
        self.claims = (
            ClaimSpace(self.path, claim_node, stale_seconds=claim_stale_seconds, gone=claim_gone)
            if claim_node is not None else None
        )  # claim_gone: the node registry's dead nodes, whose claims are taken over without waiting for the lease
        self.share = claim_share if self.claims is not None else None  # the processes of one gateway serve
        self._leased = False
        self.failpoints = failpoints or FailPoints()

    def ensure_folders(self) -> None:
        for sub in ("", PROCESSED, FAILED):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        if self.claims is not None and not self._leased:
            KEEPER.add(self.claims)  # the lease is renewed from now on, also while a long file is processed
            self._leased = True

    def release(self) -> int:
        """This node stops watching the folder: its unfinished claims go back to the inbox (a clean stop)."""
        if self.claims is None:
            return 0
        KEEPER.remove(self.claims)
        self._leased = False
        return self.claims.release()

    def ignored(self, name: str) -> bool:
        return name.startswith(".") or name.endswith(self.ignore_suffixes)

    def poll(self) -> tuple[list[FolderItem], float | None]:
        """Complete files, oldest first, and the number of seconds after which a pending file may be ready. With
        claims: the files this node claimed earlier and did not commit first, then the new ones it could claim."""
        ready, wait = self._scan()
        if self.claims is None:
            return ready, wait
        if not self._leased:
            KEEPER.add(self.claims)
            self._leased = True
        self.claims.take_over()  # a dead node's files: into our working folder, offered below
        mine = []
        for c in self.claims.pending():
            try:
                st = c.path.stat()
            except FileNotFoundError:
                continue
            mine.append(FolderItem(self.channel, self.partner_id, c.path, st.st_size, st.st_mtime_ns, self.path,
                                   origin=c.origin))
        mine.sort(key=lambda i: (i.mtime_ns, i.name))
        fresh = 0
        batch = CLAIM_BATCH
        if self.share is not None and self.share.of > 1:
            ready, wait, batch = self._share_order(ready, wait, self.share, len(mine))
        for item in ready:
            if len(mine) >= batch:
                if fresh:  # more to claim: poll again right after this batch (the other nodes take their share)
                    wait = 0.0
                break
            claimed = self.claims.claim(item.path)
            if claimed is None:
                continue  # another node was first (or a file of that name waits in ours: claimed next time)
            fresh += 1
            self.failpoints.hit("folder.after_claim")
            self.forget(item)
            mine.append(FolderItem(self.channel, self.partner_id, claimed.path, item.size, item.mtime_ns, self.path,
                                   origin=claimed.origin))
        return mine, wait

    def _share_order(self, ready: list[FolderItem], wait: float | None, share: Share,
                     held: int) -> tuple[list[FolderItem], float | None, int]:
        """The files this process may claim now, in the order to try them, and how many to hold at most: its own
        share oldest first, then the other processes' overdue files newest first (their owners take them oldest
        first: the two meet in the middle instead of racing for the same files); another's file that is not
        overdue yet is left to its process (``wait`` says when to look again). At most this process's part of the
        complete files (rounded up; up to :data:`CLAIM_BATCH`): at the end of a burst the last files are split
        between the processes instead of one claiming a whole batch while the others idle (the poll that stops at
        that part polls again right after its batch)."""
        own: list[FolderItem] = []
        others: list[FolderItem] = []
        part = max(1, -(-len(ready) // share.of))  # of every complete file, also those left to the others now
        for item in ready:
            if share.first(item.name):
                own.append(item)
                continue
            left = self._overdue_in(item, share)
            if left > 0:  # another process's share, not overdue: left to it; looked at again when overdue
                wait = left if wait is None else min(wait, left)
            else:
                others.append(item)
        return own + others[::-1], wait, min(CLAIM_BATCH, held + part)

    def _overdue_in(self, item: FolderItem, share: Share) -> float:
        """Seconds until a complete file of another process's share has waited ``share.grace`` past its minimum
        age (then any process claims it); 0 or less: overdue."""
        with self._lock:
            look = self._looks.get(item.name)
        if look is None:
            return 0.0
        return self.min_age + share.grace - (time.monotonic() - look.first_seen)

    def _scan(self) -> tuple[list[FolderItem], float | None]:
        now_wall, now = time.time(), time.monotonic()
        ready: list[FolderItem] = []
        wait: float | None = None
        try:
            entries = list(os.scandir(self.path))
        except FileNotFoundError:
            return [], None
        present: set[str] = set()
        with self._lock:
            for entry in entries:
                if self.ignored(entry.name):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                present.add(entry.name)
                sig = (st.st_size, st.st_mtime_ns)
                look = self._looks.get(entry.name)
                if look is None or look.signature != sig:
                    self._looks[entry.name] = _Look(sig, now)
                    left = self.min_age
                else:
                    left = max(
                        self.min_age - (now - look.first_seen),
                        self.min_age - (now_wall - st.st_mtime_ns / 1e9),
                    )
                if left <= 0:
                    ready.append(
                        FolderItem(
                            self.channel,
                            self.partner_id,
                            Path(entry.path),
                            st.st_size,
                            st.st_mtime_ns,
                            self.path,
                        )
                    )
                else:
                    wait = left if wait is None else min(wait, left)
            for gone in set(self._looks) - present:
                del self._looks[gone]
        ready.sort(key=lambda i: (i.mtime_ns, i.name))
        return ready, wait

    def forget(self, item: FolderItem) -> None:
        with self._lock:
            self._looks.pop(item.name, None)

    def close(self) -> None:
        """Nothing to close: a folder holds no connection."""


class FolderOutbound:
    capabilities = frozenset({Capability.send})

    def __init__(self, *, channel: str, path: Path) -> None:
        self.channel = channel
        self.path = Path(path)
        self._prefix = str(self.path / "x")[:-1]  # a name in the folder as pathlib writes it: prefix + name

    def send(self, name: str, source: BinaryIO) -> Receipt:
        check_name(name)
        # a name of its own per writer: two nodes delivering into one shared folder never write the same temporary
        # (written with the os calls themselves: a small file costs open, write, fsync, close and rename, without
        # the buffered file object's fstat, ioctl and seek or pathlib's parsing)
        tmp = self._prefix + _fit(f".{name}", f".{os.urandom(4).hex()}.tmp")
        final = self._prefix + name
        try:
            try:
                try:
                    fd = os.open(tmp, _OUT_FLAGS, 0o666)
                except FileNotFoundError:  # the folder is created on first use only: no mkdir call per file
                    self.path.mkdir(parents=True, exist_ok=True)
                    fd = os.open(tmp, _OUT_FLAGS, 0o666)
                try:
                    while chunk := source.read(1 << 20):
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(fd, view):]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, final)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise TransientTransportError(f"cannot write {name} to {self.path}: {exc.strerror or exc}") from exc
        return Receipt(transport_id=final, outcome=ReceiptOutcome.completed)
