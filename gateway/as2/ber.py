"""A streaming reader of BER/DER (X.690) for the large parts of CMS messages.

asn1crypto loads a whole structure into memory (and ``.native`` copies it again): right for the small parts of a
CMS message (recipient infos, algorithm identifiers, a detached signature), wrong for the encrypted or compressed
content of a 100 MB AS2 message. :class:`BerReader` walks the structure from a file: it reads tag/length headers,
returns small elements whole (bounded by ``max_element``) for asn1crypto to load, and yields the bytes of an
OCTET STRING chunk by chunk, whether it is primitive with a definite length (DER) or constructed of segments with
a definite or indefinite length (BER, as streaming S/MIME encoders write it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

CHUNK = 256 * 1024
MAX_ELEMENT = 1024 * 1024  # a "small" element read whole (recipient infos, algorithms, certificates)
MAX_DEPTH = 32  # nesting of constructed strings / indefinite elements


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class BerError(ValueError):
    """The bytes are not the expected BER structure (truncated, wrong tag, element too large)."""


@dataclass(frozen=True, slots=True)
class Header:
    cls: int  # 0 universal, 1 application, 2 context, 3 private
    constructed: bool
    number: int  # the tag number
    length: int | None  # None: indefinite length (BER, constructed only)
    raw: bytes  # the identifier and length octets as read

    @property
    def eoc(self) -> bool:
        return self.cls == 0 and self.number == 0 and not self.constructed and self.length == 0

    def is_(self, cls: int, number: int) -> bool:
        return self.cls == cls and self.number == number


UNIVERSAL, CONTEXT = 0, 2
SEQUENCE, OCTET_STRING, OID = 16, 4, 6


class BerReader:
    def __init__(self, fp: Readable, *, max_element: int = MAX_ELEMENT) -> None:
        self.fp = fp
        self.pos = 0
        self.max_element = max_element

    def _read(self, n: int) -> bytes:
        data = self.fp.read(n)
        if len(data) != n:
            raise BerError(f"the structure is truncated at byte {self.pos + len(data)}")
        self.pos += n
        return data

    def header(self) -> Header:
        raw = bytearray(self._read(1))
        first = raw[0]
        number = first & 0x1F
        if number == 0x1F:  # high tag number form
            number = 0
            for _ in range(4):
                b = self._read(1)
                raw += b
                number = (number << 7) | (b[0] & 0x7F)
                if not b[0] & 0x80:
                    break
            else:
                raise BerError(f"tag number too large at byte {self.pos}")
        lb = self._read(1)
        raw += lb
        length: int | None
        if lb[0] < 0x80:
            length = lb[0]
        elif lb[0] == 0x80:
            if not first & 0x20:
                raise BerError(f"indefinite length on a primitive element at byte {self.pos}")
            length = None
        else:
            n = lb[0] & 0x7F
            if n > 8:
                raise BerError(f"length of {n} octets at byte {self.pos}")
            octets = self._read(n)
            raw += octets
            length = int.from_bytes(octets, "big")
        return Header(first >> 6, bool(first & 0x20), number, length, bytes(raw))

    def expect(self, cls: int, number: int, what: str) -> Header:
        h = self.header()
        if not h.is_(cls, number):
            raise BerError(f"expected {what} at byte {self.pos - len(h.raw)}, found tag {h.raw[:1].hex()}")
        return h

    def content(self, h: Header, depth: int = 0) -> bytes:
        """The content octets of an element (for an indefinite one: its children's encodings, without the EOC)."""
        if h.length is not None:
            if h.length > self.max_element:
                raise BerError(f"an element of {h.length} bytes where at most {self.max_element} are expected")
            return self._read(h.length)
        if depth > MAX_DEPTH:
            raise BerError("elements nested too deeply")
        out = bytearray()
        while True:
            child = self.header()
            if child.eoc:
                return bytes(out)
            out += child.raw + self.content(child, depth + 1)
            if child.length is None:
                out += b"\x00\x00"
            if len(out) > self.max_element:
                raise BerError(f"an element of more than {self.max_element} bytes")

    def element(self) -> bytes:
        """The next element whole (identifier, length and content), for asn1crypto to load."""
        h = self.header()
        body = self.content(h)
        return h.raw + body + (b"\x00\x00" if h.length is None else b"")

    def end(self, h: Header, start: int) -> None:
        """Finish a constructed element whose children were read: the EOC of an indefinite one, nothing else."""
        if h.length is None:
            eoc = self.header()
            if not eoc.eoc:
                raise BerError(f"expected the end of an indefinite element at byte {self.pos}")
        elif self.pos != start + h.length:
            raise BerError(f"an element ends at byte {self.pos}, its length says {start + h.length}")

    def octets(self, h: Header, depth: int = 0, chunk: int = CHUNK) -> Iterator[bytes]:
        """The bytes of a (possibly constructed) string element ``h`` whose header was just read, in chunks."""
        if not h.constructed:
            assert h.length is not None
            left = h.length
            while left:
                data = self._read(min(chunk, left))
                left -= len(data)
                yield data
            return
        if depth > MAX_DEPTH:
            raise BerError("string segments nested too deeply")
        start = self.pos
        while h.length is None or self.pos < start + h.length:
            child = self.header()
            if child.eoc and h.length is None:
                return
            if not child.is_(UNIVERSAL, OCTET_STRING):
                raise BerError(f"a segment of a constructed OCTET STRING has tag {child.raw[:1].hex()}")
            yield from self.octets(child, depth + 1, chunk)
        if self.pos != start + h.length:
            raise BerError("a constructed OCTET STRING's segments overrun its length")
