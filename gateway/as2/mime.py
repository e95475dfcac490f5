"""Small pure helpers on AS2 wire data: header handling, stored-MDN framing, bounded decompression."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping

from gateway.as2 import compat as _compat
from gateway.as2.names import header_value as header_value  # re-exported: imported from here elsewhere

_compat.install()
from asn1crypto import cms  # noqa: E402
from pyas2lib.exceptions import DecompressionError  # noqa: E402

CHUNK = 64 * 1024


def lower_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k.lower(): v for k, v in items}


def raw_message(headers: Mapping[str, str], body: bytes) -> bytes:
    """HTTP headers and body as the one MIME document pyas2lib parses."""
    return raw_head(headers) + body


def raw_head(headers: Mapping[str, str]) -> bytes:
    """The header block of :func:`raw_message` (ending with the empty line): what precedes the body."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() not in _HOP_BY_HOP)
    return head.encode("utf-8", "surrogateescape") + b"\r\n"


_HOP_BY_HOP = frozenset({"host", "connection", "content-length", "transfer-encoding", "accept-encoding", "accept"})


def frame(headers: Mapping[str, str], body: bytes) -> bytes:
    """Headers + body as stored in the archive (an MDN kept to be sent again)."""
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("utf-8") + b"\r\n" + body


def unframe(data: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8").split("\r\n"):
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip()] = v.strip()
    return headers, body



def bounded_decompress(compressed_data: bytes, limit: int) -> bytes:
    """CMS CompressedData (RFC 3274, zlib) inflated to at most ``limit`` bytes; more raises DecompressionError.

    asn1crypto's ``.decompressed`` inflates everything at once, so a small zip bomb would take all memory.
    """
    try:
        info = cms.ContentInfo.load(compressed_data)
        if info["content_type"].native != "compressed_data":
            raise DecompressionError("compressed data not found in the CMS structure")
        data = info["content"]["encap_content_info"]["content"].native
    except DecompressionError:
        raise
    except Exception as exc:
        raise DecompressionError(f"the compressed part is not valid CMS: {exc}") from exc
    inflater = zlib.decompressobj()
    out = bytearray()
    try:
        pos = 0
        while pos < len(data) or inflater.unconsumed_tail:
            src = inflater.unconsumed_tail or data[pos : pos + CHUNK]
            if not inflater.unconsumed_tail:
                pos += CHUNK
            out += inflater.decompress(src, limit + 1 - len(out))
            if len(out) > limit:
                raise DecompressionError(
                    f"the compressed payload expands past the size limit of {limit} bytes", "decompression-failed"
                )
        out += inflater.flush()
    except zlib.error as exc:
        raise DecompressionError(f"the compressed payload is corrupt: {exc}") from exc
    if len(out) > limit:
        raise DecompressionError(f"the compressed payload expands past the size limit of {limit} bytes")
    return bytes(out)


FOLD_WIDTH = 76


def fold_header_block(head: bytes, width: int = FOLD_WIDTH) -> bytes:
    """RFC 5322 sec. 2.2.3 folding of a CRLF-separated header block: a line longer than ``width`` gets a CRLF
    inserted before some of its existing spaces (outside quoted strings), so unfolding restores it exactly.
    A line without such a space stays as it is; the first line keeps at least one word after the colon."""
    out: list[bytes] = []
    for line in head.split(b"\r\n"):
        if len(line) <= width or line[:1] in (b" ", b"\t"):
            out.append(line)
            continue
        words: list[bytes] = []
        start, quoted = 0, False
        for i, c in enumerate(line):
            if c == 0x22 and (i == 0 or line[i - 1] != 0x5C):  # '"' not escaped
                quoted = not quoted
            elif c == 0x20 and not quoted and i > start:
                words.append(line[start:i])
                start = i + 1
        words.append(line[start:])
        current = words[0] + b" " + words[1] if len(words) > 1 else words[0]
        for word in words[2:]:
            if len(current) + 1 + len(word) > width:
                out.append(current)
                current = b" " + word
            else:
                current += b" " + word
        out.append(current)
    return b"\r\n".join(out)
