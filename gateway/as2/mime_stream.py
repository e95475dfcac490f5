"""MIME entities of large AS2 messages, read from files without loading them.

An :class:`Entity` is a header block (parsed with the standard library, it is small) and a body that is a byte
range of a file. The multipart/signed split finds the two parts' exact byte ranges (RFC 1847: the CRLF before a
boundary delimiter belongs to the delimiter), so the first part can be hashed as it was sent; transfer encodings
(base64, quoted-printable) are decoded chunk by chunk into a spool file.
"""

from __future__ import annotations

import binascii
import io
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 256 * 1024
MAX_HEADER = 64 * 1024  # a header block larger than this is not a header block


class MimeError(ValueError):
    """The MIME structure is not what it claims (no boundary, truncated multipart)."""


class RangeReader(io.RawIOBase):
    """A read-only file object over ``[start, end)`` of a file."""

    def __init__(self, path: Path, start: int, end: int) -> None:
        self._fp = open(path, "rb")  # noqa: SIM115 -- closed by close()
        self._fp.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._fp.read(n)
        self._left -= len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._fp.close()
        super().close()


@dataclass(frozen=True, slots=True)
class Entity:
    headers: Message
    path: Path
    start: int  # first byte of the body
    end: int  # one past the last byte of the body

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    @property
    def size(self) -> int:
        return self.end - self.start

    def param(self, name: str) -> str | None:
        value = self.headers.get_param(name)
        return value if isinstance(value, str) else None

    def open(self) -> RangeReader:
        return RangeReader(self.path, self.start, self.end)

    def chunks(self, chunk: int = CHUNK) -> Iterator[bytes]:
        with self.open() as fp:
            while data := fp.read(chunk):
                yield data


def parse_headers(head: bytes) -> Message:
    return BytesHeaderParser(policy=policy.compat32).parsebytes(head)


def entity_at(path: Path, start: int, end: int) -> Entity:
    """The MIME entity in ``[start, end)`` of ``path``: headers up to the first empty line, the rest is body.
    Bytes that do not start with a header block are all body (with no headers: text/plain, as email parses)."""
    with RangeReader(path, start, end) as fp:
        head = fp.read(MAX_HEADER)
    for sep in (b"\r\n\r\n", b"\n\n"):
        if head.startswith(sep[len(sep) // 2 :]):  # an empty header block
            return Entity(parse_headers(b""), path, start + len(sep) // 2, end)
        cut = head.find(sep)
        if cut >= 0 and b"\n\n" not in head[:cut] and _looks_like_headers(head[:cut]):
            return Entity(parse_headers(head[: cut + len(sep)]), path, start + cut + len(sep), end)
    return Entity(parse_headers(b""), path, start, end)


def _looks_like_headers(block: bytes) -> bool:
    for line in block.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        name, colon, _ = line.partition(b":")
        if not colon or not name or any(c <= 32 or c > 126 for c in name):
            return False
    return True


def find(path: Path, pattern: bytes, start: int, end: int) -> int:
    """Offset of the first ``pattern`` in ``[start, end)`` of ``path``, or -1."""
    keep = len(pattern) - 1
    with RangeReader(path, start, end) as fp:
        tail, base = b"", start
        while data := fp.read(CHUNK):
            window = tail + data
            at = window.find(pattern)
            if at >= 0:
                return base - len(tail) + at
            tail = window[-keep:] if keep else b""
            base += len(data)
    return -1


def split_signed(entity: Entity) -> tuple[tuple[int, int], tuple[int, int]]:
    """The byte ranges of the two parts of a multipart/signed entity (RFC 1847): (signed part, signature)."""
    boundary = entity.param("boundary")
    if not boundary:
        raise MimeError("the multipart/signed part has no boundary")
    delim = b"--" + boundary.encode("utf-8", "surrogateescape")
    path, end = entity.path, entity.end

    def after_line(pos: int) -> int:
        nl = find(path, b"\n", pos, end)
        if nl < 0:
            raise MimeError("the multipart/signed part is truncated")
        return nl + 1

    def next_delimiter(pos: int) -> int:
        at = find(path, b"\n" + delim, pos - 1 if pos > entity.start else pos, end)
        if at < 0:
            raise MimeError("the multipart/signed part is truncated (a boundary is missing)")
        return at

    with RangeReader(path, entity.start, end) as fp:
        starts_with_delim = fp.read(len(delim)) == delim
    first = entity.start if starts_with_delim else next_delimiter(entity.start) + 1
    p1 = after_line(first)
    d1 = next_delimiter(p1)
    p2 = after_line(d1 + 1)
    d2 = next_delimiter(p2)
    return (p1, _before_newline(path, p1, d1)), (p2, _before_newline(path, p2, d2))


def _before_newline(path: Path, start: int, newline: int) -> int:
    """The end of a part whose delimiter line starts with the newline at ``newline`` (CR of a CRLF excluded)."""
    if newline > start:
        with RangeReader(path, newline - 1, newline) as fp:
            if fp.read(1) == b"\r":
                return newline - 1
    return max(start, newline)


def decoded(entity: Entity, spool: BinaryIO) -> Entity:
    """The entity with its body transfer-decoded: itself for 7bit/8bit/binary, else decoded into ``spool``."""
    cte = (entity.headers.get("content-transfer-encoding") or "").strip().lower()
    if cte not in ("base64", "quoted-printable"):
        return entity
    start = spool.tell()
    if cte == "base64":
        rest = b""
        for chunk in entity.chunks():
            data = rest + b"".join(chunk.split())
            cut = len(data) - len(data) % 4
            spool.write(_b64(data[:cut]))
            rest = data[cut:]
        if rest.strip(b"="):
            spool.write(_b64(rest + b"=" * (-len(rest) % 4)))
    else:
        rest = b""
        for chunk in entity.chunks():
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            spool.write(binascii.a2b_qp(data[:cut]))
            rest = data[cut:]
        spool.write(binascii.a2b_qp(rest))
    spool.flush()
    return Entity(entity.headers, Path(spool.name), start, spool.tell())


def _b64(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except binascii.Error as exc:
        raise MimeError(f"the base64 content is corrupt: {exc}") from exc


class Canonical:
    """Feeds hashers with bytes as they are and, separately, with bare LF line ends made CRLF (the canonical
    form of RFC 5751 sec. 3.1.1, which pyas2lib's re-serialisation produces)."""

    def __init__(self, exact: dict[str, Any], canonical: dict[str, Any]) -> None:
        self.exact, self.canonical = exact, canonical
        self._cr = False  # the previous chunk ended with CR (held back)
        self.changed = False

    def update(self, data: bytes) -> None:
        for h in self.exact.values():
            h.update(data)
        if self._cr:
            data = b"\r" + data
        self._cr = data.endswith(b"\r")
        if self._cr:
            data = data[:-1]
        fixed = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.changed = self.changed or fixed != data
        for h in self.canonical.values():
            h.update(fixed)

    def finish(self) -> None:
        if self._cr:
            for h in self.canonical.values():
                h.update(b"\r")
