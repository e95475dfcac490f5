"""The start-up check of the archive against the store: does this node see the payloads the store knows?

With several nodes, the archive is one shared folder (``archive_dir`` on a shared file system, the same path on
every node). A node started with its archive missing, unmounted or pointing elsewhere would record messages whose
bytes the other nodes cannot read, and could not resend or reprocess theirs; it must not start. The check reads
the first bytes of the payloads of the newest ``newest`` messages that still have one (not purged), and writes
and removes a temporary file in the archive root (the node can write there). A store without messages passes: a
new installation has nothing to compare.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import col, select

from gateway.store.archive import INCOMING, Archive
from gateway.store.models import Message
from gateway.store.repository import Store

DEFAULT_NEWEST = 20


@dataclass(frozen=True, slots=True)
class ArchiveCheck:
    root: Path
    checked: int  # messages whose payload was looked for
    missing: list[int] = field(default_factory=list)  # message ids whose payload is absent or unreadable
    unwritable: str | None = None  # why a temporary file could not be written in the archive root

    @property
    def ok(self) -> bool:
        return not self.missing and self.unwritable is None

    def reason(self) -> str:
        """One line for the operator (empty when the check passed)."""
        if self.missing:
            ids = ", ".join(str(i) for i in self.missing[:5]) + (" ..." if len(self.missing) > 5 else "")
            return (f"the archive at {self.root} lacks the payloads of {len(self.missing)} of the newest "
                    f"{self.checked} messages in the store (message ids {ids})")
        if self.unwritable:
            return f"cannot write to the archive at {self.root}: {self.unwritable}"
        return ""


def check_archive(store: Store, archive: Archive, *, newest: int = DEFAULT_NEWEST) -> ArchiveCheck:
    """Look for the payloads of the ``newest`` most recent messages that have one; then try a write."""
    with store.session() as s:
        rows = s.exec(
            select(Message.id, Message.archive_key)
            .where(col(Message.archive_key).is_not(None), col(Message.purged_at).is_(None))
            .order_by(col(Message.id).desc())
            .limit(newest)
        ).all()
    missing = [int(mid) for mid, key in rows if mid is not None and not _readable(archive, key)]
    return ArchiveCheck(archive.root, len(rows), missing, None if missing else _write_probe(archive.root))


def _readable(archive: Archive, key: str | None) -> bool:
    if not key:
        return True
    try:
        with open(archive.path_for(key), "rb") as fp:
            fp.read(64)
        return True
    except Exception:  # absent, unreadable, or not an archive key at all: nothing a node could read
        return False


def _write_probe(root: Path) -> str | None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{INCOMING}check-", dir=root)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
