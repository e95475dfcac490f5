"""Claims on a shared inbox folder: several gateway nodes poll one folder, and each file is taken by one of them.

A node claims a complete file by renaming it from ``<inbox>/<name>`` into its own working folder
``<inbox>/.claimed/<node id>/<name>``. A rename within one file system is atomic: of two nodes renaming the same
file, one succeeds and the other is told the file no longer exists, so it skips it. The node processes the file
from its working folder and commits it from there to ``processed/`` or ``failed/`` as before; a file left in the
working folder (a transient error, a crash) is offered again by the node's next poll.

Liveness is a lease file, ``<inbox>/.claimed/<node id>/.lease``, whose modification time a background thread of
the node renews every ``stale_seconds / 4``. A working folder whose lease was not renewed for ``stale_seconds``
belongs to a node that died (SIGKILL, a lost host): any other node takes its files over, again by rename into
its own working folder, and removes the dead folder. Ages are measured on the file system's clock: a node touches
its own lease file and reads back its modification time as "now", so the nodes' clocks need not agree.

A node the node registry (:class:`gateway.store.nodes.NodeRegistry`) knows dead (no heartbeat for three periods,
or stopped) need not wait for that: its files are taken over at once, as its message leases are
(:mod:`gateway.store.leases`). The registry is asked only when another node's fresh working folder holds files; a
node it does not name as gone (unknown to it, or a store that cannot be asked) keeps the file-system rule.

A taken-over file keeps its name, size and modification time, and its idempotency key is that of the file in the
inbox: the message already recorded for it is resumed, never created twice. A node stopped cleanly moves the
files it claimed but did not finish back into the inbox (see :meth:`ClaimSpace.release`).
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.logging import get_logger

log = get_logger(__name__)

CLAIMED = ".claimed"
LEASE = ".lease"
DEFAULT_STALE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Claimed:
    """A file in this node's working folder: where it is now and the inbox path it was claimed from."""

    path: Path
    origin: Path


SHARE_GRACE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Share:
    """This process's part of a shared inbox among the ``of`` processes of one ``gateway serve`` (the parent, slot
    0, and its inbound worker processes, slots 1..of-1): a process claims at once only the files whose name hashes
    to its slot, and another slot's file only once it has waited ``grace`` seconds complete in the inbox (its
    process is busy with a long file, restarting, or gone). The processes then do not race to rename the same
    oldest files (each still looks at every file, to know when another's is overdue). The claim (rename) still
    decides who processes a file: the share only orders who tries first, so nothing about exactly once depends
    on it."""

    slot: int
    of: int
    grace: float = SHARE_GRACE_SECONDS

    def first(self, name: str) -> bool:
        """Whether this process claims ``name`` without waiting."""
        return self.of <= 1 or zlib.crc32(os.fsencode(name)) % self.of == self.slot


def _safe(node: str) -> str:
    """A node id as one folder name (ids are host-pid-random or an operator's name; never a path)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in node).lstrip(".")
    return cleaned or "node"


class ClaimSpace:
    """One node's claims on one inbox folder."""

    def __init__(self, inbox: Path, node: str, *, stale_seconds: float = DEFAULT_STALE_SECONDS,
                 gone: Callable[[], set[str]] | None = None) -> None:
        self.inbox = Path(inbox)
        self.node = _safe(node)
        self.stale_seconds = stale_seconds
        self.gone = gone  # ids of nodes the registry knows dead (NodeRegistry.gone_ids); None: no registry
        self.root = self.inbox / CLAIMED
        self.mine = self.root / self.node
        self.lease = self.mine / LEASE
        self._guard = threading.Lock()  # renew() against release(): a released working folder is not recreated
        self._released = False

    # -- lease -------------------------------------------------------------------------------------------------
    def renew(self) -> float:
        """Touch this node's lease file (creating the working folder when missing); returns its mtime (the file
        system's "now")."""
        with self._guard:
            self._released = False
            return self._renew()

    def keep_alive(self) -> None:
        """The lease thread's renewal: like :meth:`renew`, but never after :meth:`release` (the thread may have
        picked this space just before the release: it must not make the working folder again)."""
        with self._guard:
            if not self._released:
                self._renew()

    def _renew(self) -> float:
        try:
            os.utime(self.lease)
        except FileNotFoundError:
            self.mine.mkdir(parents=True, exist_ok=True)
            self.lease.touch()
        return self.lease.stat().st_mtime

    # -- claiming ----------------------------------------------------------------------------------------------
    def claim(self, source: Path) -> Claimed | None:
        """Move ``source`` (a complete file in the inbox) into this node's working folder. None when another node
        took it first, or when a file of the same name waits in the working folder (claimed on a later poll)."""
        target = self.mine / source.name
        if target.exists():
            return None
        if not self._move(source, target):
            return None
        return Claimed(target, source)

    def pending(self) -> list[Claimed]:
        """Files in this node's working folder: claimed earlier and not committed yet (redelivered)."""
        try:
            entries = list(os.scandir(self.mine))
        except FileNotFoundError:
            return []
        return [
            Claimed(Path(e.path), self.inbox / e.name)
            for e in entries
            if not e.name.startswith(".") and e.is_file(follow_symlinks=False)
        ]

    def take_over(self) -> list[str]:
        """Move the files of every dead node's working folder into this node's; returns their names. Dead: its
        lease is stale, or the node registry knows the node gone or stopped."""
        try:
            others = [Path(e.path) for e in os.scandir(self.root)
                      if e.name != self.node and e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return []
        if not others:
            return []
        now = self.renew()
        taken: list[str] = []
        fresh: list[tuple[Path, float]] = []
        for folder in others:
            renewed = self._last_renewed(folder)
            if renewed is None:
                continue
            if (age := now - renewed) < self.stale_seconds:
                fresh.append((folder, age))
                continue
            taken += self._take(folder, lease_age_seconds=round(age, 1))
        dead = self._gone() if any(self._holds_files(folder) for folder, _ in fresh) else set()
        for folder, age in fresh:
            if folder.name in dead:
                taken += self._take(folder, lease_age_seconds=round(age, 1), node_gone=True)
        return taken

    def release(self) -> int:
        """A clean stop: files this node claimed and did not commit go back to the inbox (unless a new file of the
        same name arrived there meanwhile: that one stays claimed until another node takes it over), then the
        working folder goes. Returns how many went back."""
        with self._guard:
            self._released = True
            return self._release()

    def _release(self) -> int:
        back = 0
        for item in self.pending():
            if item.origin.exists():
                continue
            if self._move(item.path, item.origin):
                back += 1
        self.lease.unlink(missing_ok=True)
        try:
            self.mine.rmdir()
        except OSError:
            pass  # not empty (a name clash above) or already gone
        return back

    # -- helpers -----------------------------------------------------------------------------------------------
    def _take(self, folder: Path, **why: object) -> list[str]:
        moved = self._drain(folder)
        if moved:
            log.warning("folder.claims_taken_over", extra={"fields": {"inbox": str(self.inbox),
                                                                       "from_node": folder.name,
                                                                       "files": len(moved), **why}})
        return moved

    def _gone(self) -> set[str]:
        """Working-folder names of the nodes the registry knows dead; none when there is no registry or it cannot
        be asked (the file-system rule still applies)."""
        if self.gone is None:
            return set()
        try:
            return {_safe(n) for n in self.gone()} - {self.node}
        except Exception as exc:  # the store is away: leases on the file system decide alone
            log.warning("folder.node_registry_unavailable",
                        extra={"fields": {"inbox": str(self.inbox), "error": type(exc).__name__}})
            return set()

    @staticmethod
    def _holds_files(folder: Path) -> bool:
        try:
            with os.scandir(folder) as entries:
                return any(not e.name.startswith(".") for e in entries)
        except FileNotFoundError:
            return False

    @staticmethod
    def _last_renewed(folder: Path) -> float | None:
        for path in (folder / LEASE, folder):  # a folder without its lease file yet: the folder's own mtime
            try:
                return path.stat().st_mtime
            except FileNotFoundError:
                continue
        return None

    def _drain(self, folder: Path) -> list[str]:
        moved: list[str] = []
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return moved
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            target = self.mine / entry.name
            if target.exists():
                continue  # a file of that name is still ours to finish; the next take-over moves this one
            if self._move(Path(entry.path), target):
                moved.append(entry.name)
        try:
            left = [name for name in os.listdir(folder) if name != LEASE]
        except FileNotFoundError:
            return moved
        if not left:
            (folder / LEASE).unlink(missing_ok=True)
            try:
                folder.rmdir()
            except OSError:
                pass  # its node came back meanwhile (same node id), or another node is draining it too
        return moved

    def _move(self, source: Path, target: Path) -> bool:
        """Atomic rename; False when ``source`` is gone (another node moved it first)."""
        try:
            os.rename(source, target)
            return True
        except FileNotFoundError:
            if not source.exists():
                return False
            target.parent.mkdir(parents=True, exist_ok=True)  # our working folder was removed (or never made)
        try:
            os.rename(source, target)
            return True
        except FileNotFoundError:
            return False


class LeaseKeeper:
    """The background thread renewing this process's lease files (one per claimed inbox) while it runs."""

    def __init__(self) -> None:
        self._spaces: dict[Path, ClaimSpace] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()  # a space was added: renew now and recompute the interval
        self._thread: threading.Thread | None = None

    def add(self, space: ClaimSpace) -> None:
        with self._lock:
            self._spaces[space.mine] = space
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="folder-claim-leases", daemon=True)
                self._thread.start()
        space.renew()

    def remove(self, space: ClaimSpace) -> None:
        with self._lock:
            self._spaces.pop(space.mine, None)

    def interval(self) -> float:
        with self._lock:
            stale = min((s.stale_seconds for s in self._spaces.values()), default=DEFAULT_STALE_SECONDS)
        return max(0.2, stale / 4)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval())
            self._wake.clear()
            with self._lock:
                spaces = list(self._spaces.values())
            for space in spaces:
                try:
                    space.keep_alive()
                except OSError as exc:  # a shared file system gone for a moment: the next round tries again
                    log.warning("folder.lease_renew_failed", extra={"fields": {"inbox": str(space.inbox),
                                                                                "error": str(exc)}})


KEEPER = LeaseKeeper()  # one per process, like the node id
