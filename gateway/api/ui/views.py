"""What the message page shows of a payload: X12 as a table of segments, anything else as text; canonical
records as indented JSON. Bounded: a huge file shows its first segments and says how many more there are."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from gateway.edi.x12.reader import X12Reader

MAX_SEGMENTS = 400
MAX_TEXT = 200_000
SNIFF = 4096


@dataclass(slots=True)
class SegmentRow:
    position: int
    id: str
    elements: list[str]


@dataclass(slots=True)
class PayloadView:
    kind: str  # x12, text, binary, missing
    segments: list[SegmentRow] = field(default_factory=list)
    more_segments: bool = False
    text: str = ""
    truncated: bool = False
    note: str | None = None


def _looks_x12(head: bytes) -> bool:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped[:3].upper() == b"ISA"


def payload_view(data: io.BufferedIOBase | Any, *, limit: int = MAX_SEGMENTS) -> PayloadView:
    """Read at most ``limit`` segments (X12) or ``MAX_TEXT`` bytes (other text) from an open binary file."""
    head = data.read(SNIFF)
    if _looks_x12(head):
        rest = io.BufferedReader(_Chain(head, data))  # type: ignore[arg-type]
        rows: list[SegmentRow] = []
        for seg in X12Reader(rest):
            if len(rows) >= limit:
                return PayloadView(kind="x12", segments=rows, more_segments=True)
            d = seg.delimiters
            values = []
            for value in seg.elements[1:]:
                if d.repetition:
                    value = "^".join(value.split(d.repetition))
                if d.component and d.component != ":":
                    value = ":".join(value.split(d.component))
                values.append(value)
            rows.append(SegmentRow(position=seg.position, id=seg.id, elements=values))
        if rows:
            return PayloadView(kind="x12", segments=rows)
    body = head + data.read(MAX_TEXT - len(head) + 1)
    truncated = len(body) > MAX_TEXT
    body = body[:MAX_TEXT]
    if b"\x00" in body:
        return PayloadView(kind="binary", note="binary content: download it to inspect")
    return PayloadView(kind="text", text=body.decode("utf-8", errors="replace"), truncated=truncated)


class _Chain(io.RawIOBase):
    """The sniffed head followed by the rest of the file, as one stream."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        chunk = self._rest.read(len(b))
        n = len(chunk)
        b[:n] = chunk
        return n


def canonical_view(data: Any) -> tuple[str, bool]:
    """Canonical records, pretty-printed; (text, truncated)."""
    raw = data.read(MAX_TEXT + 1)
    truncated = len(raw) > MAX_TEXT
    if not truncated:
        try:
            return json.dumps(json.loads(raw), indent=2, ensure_ascii=False), False
        except ValueError:
            pass
    return raw[:MAX_TEXT].decode("utf-8", errors="replace"), truncated
