"""File-system events (watchdog) that wake folder polls early. Events never decide that a file is complete:
``created`` fires on partial files. ``closed`` and ``moved`` are the useful signals; any event just wakes
the poll, which applies the completeness rules (see transports/folder.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch


class _Wake(FileSystemEventHandler):
    def __init__(self, callback: Callable[[], None], *, deletions: bool = False) -> None:
        self.callback = callback
        self.ignored = ("opened",) if deletions else ("opened", "deleted")

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in self.ignored:
            return
        self.callback()


class FolderWatcher:
    def __init__(self) -> None:
        self._observer = Observer()
        self._started = False

    def watch(self, folder: Path, callback: Callable[[], None], *, deletions: bool = False) -> ObservedWatch:
        """Call ``callback`` on changes in ``folder``; ``deletions`` also for deleted files (partner files)."""
        folder.mkdir(parents=True, exist_ok=True)
        return self._observer.schedule(_Wake(callback, deletions=deletions), str(folder), recursive=False)

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
