"""File-system events (watchdog) that wake folder polls early. Events never decide that a file is complete:
``created`` fires on partial files. ``closed`` and ``moved`` are the useful signals; any event just wakes
the poll, which applies the completeness rules (see transports/folder.py).

Only those signals are asked of the kernel: on Linux the inotify mask of a watch is ``IN_CLOSE_WRITE |
IN_MOVED_TO`` (plus ``IN_DELETE | IN_MOVED_FROM`` for a watch that cares about removals), so the gateway's own
work in an inbox never reaches Python: reading a file (``IN_OPEN``, ``IN_CLOSE_NOWRITE``), listing the folder,
moving a file out to ``processed/``, ``failed/`` or ``.claimed/`` (``IN_MOVED_FROM``, which watchdog would
otherwise hold back half a second to pair it), and every ``write()`` of a partner still copying a file
(``IN_MODIFY``). A file that appears without being written or moved in (a hard link) waits for the periodic
sweep. Events about names the folder ignores (dot-files and temporary suffixes, e.g. a partner's ``.x.part``)
wake nothing.

On Linux the gateway reads inotify itself (:class:`_Inotify`, one thread): each ``read()`` returns every event the
kernel queued meanwhile, and each watch concerned is woken ONCE for them; after a wake the thread lets events
gather for :data:`SETTLE_SECONDS` before it reads again (a file is never picked up sooner than the inbox's minimum
age anyway). A burst of a thousand files moved into an
inbox wakes its poll a handful of times instead of a thousand (watchdog builds an event object per file, holds
``moved`` events in a queue searched once per event to pair them, and hands each to a dispatcher thread: about 5%
of the server's CPU on such a burst). Elsewhere watchdog's observer does the work."""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from gateway.logging import get_logger

log = get_logger(__name__)

WAKES: list[type[FileSystemEvent]] = [FileClosedEvent, FileCreatedEvent, FileMovedEvent]  # created: moved in
WAKES_ON_DELETE: list[type[FileSystemEvent]] = [*WAKES, FileDeletedEvent]

# inotify(7)
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_DELETE = 0x00000200
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
IN_MASK_ADD = 0x20000000
IN_CLOEXEC = 0o2000000
IN_NONBLOCK = 0o4000
WRITTEN = IN_CLOSE_WRITE | IN_MOVED_TO
REMOVED = IN_DELETE | IN_MOVED_FROM
_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name, NUL padded)
READ_SIZE = 64 * 1024
SETTLE_SECONDS = 0.05  # after a wake, events gather this long in the kernel's queue before the next read


@dataclass(eq=False)
class Watch:
    """One ``watch()``: what :meth:`FolderWatcher.unwatch` takes back."""

    folder: Path
    callback: Callable[[], None]
    deletions: bool
    ignored: Callable[[str], bool] | None
    wd: int = -1
    handle: Any = None  # watchdog's ObservedWatch (not Linux)

    def wanted(self, mask: int, name: bytes) -> bool:
        """Whether an event (``mask``, file ``name``) wakes this watch."""
        if mask & IN_ISDIR:
            return False
        if mask & REMOVED:
            return self.deletions
        if not mask & WRITTEN:
            return False
        return self.ignored is None or not self.ignored(os.fsdecode(name))


class _Inotify:
    """One inotify descriptor read by one thread; each read's events wake every watch concerned once."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._rm = libc.inotify_rm_watch
        self._rm.argtypes = [ctypes.c_int, ctypes.c_int]
        self.fd = libc.inotify_init1(IN_CLOEXEC | IN_NONBLOCK)
        if self.fd < 0:
            raise _os_error("cannot start watching folders (inotify)")
        self._stop_r, self._stop_w = os.pipe()
        self._lock = threading.Lock()
        self._by_wd: dict[int, list[Watch]] = {}
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, watch: Watch) -> None:
        mask = WRITTEN | (REMOVED if watch.deletions else 0)
        with self._lock:  # IN_MASK_ADD: a second watch of the same folder keeps what the first asked for
            wd = self._add(self.fd, os.fsencode(watch.folder), mask | IN_MASK_ADD)
            if wd < 0:
                raise _os_error(f"cannot watch {watch.folder}")
            watch.wd = wd
            self._by_wd.setdefault(wd, []).append(watch)

    def remove(self, watch: Watch) -> None:
        with self._lock:
            watches = self._by_wd.get(watch.wd)
            if watches is None or watch not in watches:
                return  # already gone (the folder was deleted, or unwatched before)
            watches.remove(watch)
            if not watches:
                del self._by_wd[watch.wd]
                self._rm(self.fd, watch.wd)  # fails only when the kernel dropped it already

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="folder-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close the descriptors (its watches go with them); once is enough."""
        if self._closed:
            return
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
            self._thread = None
        self._closed = True
        for fd in (self.fd, self._stop_r, self._stop_w):
            os.close(fd)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ev in poller.poll()}
            if self._stop_r in ready:
                return
            try:
                data = os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            woken = self._woken(data)
            for watch in woken:
                try:
                    watch.callback()
                except Exception:  # a broken callback must not end the watching of every other folder
                    log.exception("watch.callback_failed", extra={"fields": {"folder": str(watch.folder)}})
            if woken and select.select([self._stop_r], [], [], SETTLE_SECONDS)[0]:
                return  # stopped while the next events gathered

    def _woken(self, data: bytes) -> list[Watch]:
        """The watches that ``data``'s events wake, each once, in the order of their first event."""
        woken: dict[int, Watch] = {}
        with self._lock:
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
                name = data[offset + _HEADER.size: offset + _HEADER.size + length].rstrip(b"\0")
                offset += _HEADER.size + length
                if mask & IN_Q_OVERFLOW:  # events were lost: every folder may have something new
                    for watches in self._by_wd.values():
                        woken.update((id(w), w) for w in watches)
                    continue
                if mask & IN_IGNORED:  # the folder is gone: the kernel dropped its watch
                    for w in self._by_wd.pop(wd, []):
                        woken.pop(id(w), None)
                    continue
                for w in self._by_wd.get(wd, ()):
                    if id(w) not in woken and w.wanted(mask, name):
                        woken[id(w)] = w
        return list(woken.values())


def _os_error(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


class _Wake(FileSystemEventHandler):
    def __init__(self, callback: Callable[[], None], ignored: Callable[[str], bool] | None) -> None:
        self.callback = callback
        self.ignored = ignored

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        if self.ignored is not None and event.event_type != "deleted":
            path = event.dest_path or event.src_path  # moved: where the file is now
            if self.ignored(os.path.basename(os.fsdecode(path))):
                return
        self.callback()


class FolderWatcher:
    def __init__(self) -> None:
        self._inotify = _Inotify() if sys.platform.startswith("linux") else None
        self._observer: Any = None
        if self._inotify is None:
            from watchdog.observers import Observer

            self._observer = Observer()
        self._started = False

    def watch(self, folder: Path, callback: Callable[[], None], *, deletions: bool = False,
              ignored: Callable[[str], bool] | None = None) -> Watch:
        """Call ``callback`` when a file in ``folder`` is written (closed) or moved in; ``deletions`` also when one
        is deleted or moved away (partner files). ``ignored``: names whose events wake nothing. Several events
        read at once wake ``callback`` once."""
        folder.mkdir(parents=True, exist_ok=True)
        watch = Watch(folder, callback, deletions, ignored)
        if self._inotify is not None:
            self._inotify.add(watch)
        else:
            watch.handle = self._observer.schedule(_Wake(callback, ignored), str(folder), recursive=False,
                                                   event_filter=WAKES_ON_DELETE if deletions else WAKES)
        return watch

    def unwatch(self, watch: Watch) -> None:
        if self._inotify is not None:
            self._inotify.remove(watch)
            return
        try:
            self._observer.unschedule(watch.handle)
        except KeyError:
            pass  # already gone

    def start(self) -> None:
        if self._inotify is not None:
            self._inotify.start()
        else:
            self._observer.daemon = True
            self._observer.start()
        self._started = True

    def stop(self) -> None:
        if self._inotify is not None:
            self._inotify.stop()  # also when never started: its descriptors are closed
            self._started = False
            return
        if not self._started:
            return
        self._observer.stop()
        self._observer.join(timeout=5)
        self._started = False
