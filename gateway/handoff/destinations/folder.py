"""Folder destination: one file per event, named ``<event id>.<json|csv|xml>``, written atomically.

The bytes go to a hidden temporary name in the same folder, are fsynced, then renamed into place (and the folder
fsynced), so a reader never sees half a file and a crash leaves at most a stray ``.tmp`` file. The same event
written again replaces its file with identical content: repeats are harmless by construction.
``json`` writes the whole event; ``csv`` and ``xml`` write the canonical record in the shipped column map or XSD
form (an acknowledgement outcome, which has no record, is always written as JSON).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import ClassVar

from gateway.canonical import parse_record
from gateway.errors import PermanentTransportError, TransientTransportError
from gateway.handoff.config import FolderDestination
from gateway.handoff.destinations.base import OutgoingEvent, Receipt


class FolderPublisher:
    kind: ClassVar[str] = "folder"

    def __init__(self, config: FolderDestination, path: Path) -> None:
        self.name = config.name
        self.format = config.format
        self.path = path

    def render(self, event: OutgoingEvent) -> tuple[str, bytes]:
        """The file's suffix and bytes for an event."""
        if self.format == "json" or event.record_type == "ack":
            return "json", event.body
        record = parse_record(json.loads(event.body)["record"])
        if self.format == "csv":
            from gateway.mapping.csvio import write_csv

            out = io.StringIO()
            write_csv([record], out, record.type)
            return "csv", out.getvalue().encode()
        from gateway.mapping.xmlio import write_xml  # lxml (about 6 MB) only for a destination that writes XML

        return "xml", write_xml([record], record.type)

    def publish(self, event: OutgoingEvent) -> Receipt:
        try:
            suffix, data = self.render(event)
        except Exception as exc:  # a record the chosen format cannot express: retrying will not help
            what = f"folder {self.name}: cannot write the record as {self.format}: {exc}"
            raise PermanentTransportError(what) from exc
        name = f"{event.event_id}.{suffix}"
        final = self.path / name
        tmp = self.path / f".{name}.tmp"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
            dfd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            raise TransientTransportError(f"folder {self.name}: cannot write {final}: {exc.strerror}") from exc
        return Receipt({"file": name, "size": len(data)})

    def close(self) -> None:
        return None
