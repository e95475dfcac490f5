"""The partner folder as the running gateway sees it: the last good version of every file.

:meth:`PartnerFolder.refresh` re-reads the files whose size or modification time changed. A file that now
fails validation (or now claims an id another file owns) is rejected: its problems are returned, to be logged,
and its last good version stays in force. A deleted file removes its partner. Unchanged files are not parsed
again, so an invalid file is reported once per edit, not at every sweep.

This module only decides *what* the partners are; the runtime swaps the registry and starts/stops channels.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from gateway.partners.diagnostics import Problem
from gateway.partners.loader import LoadedPartner, check_unique, parse_partner_file, partner_files
from gateway.partners.schema import Partner

Stamp = tuple[int, int]


@dataclass
class Refresh:
    changed: bool
    partners: list[Partner]
    problems: list[Problem] = field(default_factory=list)  # new problems (the edit that was rejected)
    kept: list[Path] = field(default_factory=list)  # files whose last good version stays in force


def _stamp(path: Path) -> Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class PartnerFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._good: dict[Path, LoadedPartner] = {}
        self._stamps: dict[Path, Stamp | None] = {}
        self._lock = threading.Lock()
        self.problems: list[Problem] = []  # the problems of the files as they are now

    @property
    def partners(self) -> list[Partner]:
        return [lp.partner for lp in self._good.values()]

    def loaded(self) -> list[LoadedPartner]:
        return list(self._good.values())

    def refresh(self) -> Refresh:
        with self._lock:
            return self._refresh()

    def _refresh(self) -> Refresh:
        files = partner_files(self.folder)
        stamps = {p: _stamp(p) for p in files}
        if stamps == self._stamps:
            return Refresh(False, self.partners, [])
        problems: list[Problem] = []  # found now: to be logged
        still: list[Problem] = []  # files unchanged since they were found invalid
        kept: list[Path] = []
        established: dict[Path, LoadedPartner] = {}
        fresh: dict[Path, LoadedPartner] = {}
        for path in files:
            if stamps[path] == self._stamps.get(path) and path in self._good:
                established[path] = self._good[path]
                continue
            if stamps[path] == self._stamps.get(path):
                still.extend(p for p in self.problems if p.file == str(path))
                continue
            lp, found = parse_partner_file(path)
            if lp is not None:
                fresh[path] = lp
                continue
            problems.extend(found)
            if path in self._good:
                established[path] = self._good[path]
                kept.append(path)
        # established files win an id clash: the edit that introduces it is the one rejected
        ordered = list(established.values()) + list(fresh.values())
        clashes = check_unique(ordered)
        for clash in clashes:
            path = Path(clash.file)
            if path in fresh:
                del fresh[path]
                problems.append(clash)
                if path in self._good:
                    established[path] = self._good[path]
                    kept.append(path)
        good = {**established, **fresh}
        result = {p: good[p] for p in files if p in good}
        changed = [lp.partner for lp in result.values()] != self.partners or list(result) != list(self._good)
        self._good = result
        self._stamps = stamps
        self.problems = sorted(still + problems, key=lambda p: (p.file, p.line or 0))
        return Refresh(changed, self.partners, problems, kept)
