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
wake nothing."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
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
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

WAKES: list[type[FileSystemEvent]] = [FileClosedEvent, FileCreatedEvent, FileMovedEvent]  # created: moved in
WAKES_ON_DELETE: list[type[FileSystemEvent]] = [*WAKES, FileDeletedEvent]


def _observer() -> BaseObserver:
    """watchdog's observer for this platform; on Linux one whose inotify mask holds only the events above."""
    if not sys.platform.startswith("linux"):
        return Observer()  # type: ignore[no-any-return]  # the event filter still drops the rest in Python
    from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
    from watchdog.observers.inotify_c import InotifyConstants as C

    class _Emitter(InotifyEmitter):
        def get_event_mask_from_filter(self) -> Any:
            mask = C.IN_CLOSE_WRITE | C.IN_MOVED_TO | C.IN_DELETE_SELF
            if self._event_filter is not None and FileDeletedEvent in self._event_filter:
                mask |= C.IN_DELETE | C.IN_MOVED_FROM
            return mask

    observer = InotifyObserver()
    observer._emitter_class = _Emitter  # same emitter, narrower kernel mask (watchdog maps IN_MOVE for "moved")
    return observer


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
        self._observer = _observer()
        self._started = False

    def watch(self, folder: Path, callback: Callable[[], None], *, deletions: bool = False,
              ignored: Callable[[str], bool] | None = None) -> ObservedWatch:
        """Call ``callback`` when a file in ``folder`` is written (closed) or moved in; ``deletions`` also when one
        is deleted or moved away (partner files). ``ignored``: names whose events wake nothing."""
        folder.mkdir(parents=True, exist_ok=True)
        return self._observer.schedule(_Wake(callback, ignored), str(folder), recursive=False,
                                       event_filter=WAKES_ON_DELETE if deletions else WAKES)

    def unwatch(self, watch: ObservedWatch) -> None:
        try:
            self._observer.unschedule(watch)
        except KeyError:
            pass  # already gone

    def start(self) -> None:
        self._observer.daemon = True
        self._observer.start()
        self._started = True

    def stop(self) -> None:
        if self._started:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._started = False
