"""Streaming X12 reader: bytes in, segments out, in memory that does not grow with the file.

Public API::

    from gateway.edi.x12.reader import X12Reader, read_segments

    reader = X12Reader(source, tolerant=True)   # source: bytes, str or a binary file object
    for segment in reader:                       # gateway.edi.x12.segment.Segment
        segment.id, segment.elements, segment.position, segment.delimiters
    reader.notes                                 # what the reader itself noticed (see ReaderNote)

The input is decoded as UTF-8 with ``surrogateescape`` (bytes that are not UTF-8 survive a read/write round trip)
in chunks of ``chunk_size`` characters, so multi-byte delimiters such as U+2026 are single characters. Each
interchange's delimiters come from its own ISA (see :mod:`.delimiters`); files may hold many interchanges with
different delimiters, text sent without ISA (a bare ``ST..SE`` or ``GS..GE``), a UTF-8 BOM, and any whitespace
after terminators (CR LF, indentation, blank lines). When the terminator is not a line break, line breaks inside a
segment (hard-wrapped files) are removed and reported. A segment longer than ``max_segment_length`` is skipped and
reported instead of being buffered.

The lower layer, :func:`iter_raw`, yields segment texts (``str``) and :class:`ReaderEvent` objects; the envelope
analyser consumes it directly because creating a :class:`Segment` per segment is the reader's largest cost.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import IO

from gateway.edi.x12.delimiters import (
    HEADER_WINDOW,
    Delimiters,
    IsaHeader,
    guess_bare_delimiters,
    looks_like_bare_start,
    parse_isa,
)
from gateway.edi.x12.segment import Segment

Source = bytes | bytearray | memoryview | str | IO[bytes]

# 128 K characters a batch (was 1 M): a batch's segment strings (about 12 MB for 1 M of 856 text) are freed while the
# analysis keeps small per-set objects allocated between them, and the memory pages they shared stay with the
# process: analysing 100,000 sets kept +38.6 MB of RSS with 1 M batches, +21.6 MB with 128 K, at the same CPU time.
CHUNK_SIZE = 1 << 17
MAX_SEGMENT_LENGTH = 4 << 20
_BETWEEN = " \t\r\n\x00\x1a\ufeff"  # whitespace, NUL padding, DOS end-of-file, stray BOMs between interchanges
_ISA_ANYWHERE = re.compile(r"ISA[^A-Za-z0-9 \t\r\n\v\f]")
_SEGMENT_START = re.compile(r"(?:^|[\r\n])[ \t]*(?:ISA|ST|GS)[^A-Za-z0-9 \t\r\n\v\f]")


@dataclass(slots=True, eq=False)
class ReaderEvent:
    """Something the reader found between or around segments.

    ``kind`` is one of ``"isa"`` (an interchange header: ``header``), ``"bare"`` (segments without ISA start;
    ``delimiters`` guessed), ``"junk"`` (``length`` characters that are not X12, ``sample`` shows the start),
    ``"line_break"`` (``text`` is a segment that had line breaks inside, removed; ``elements`` lists the
    1-based element positions where they were) and ``"too_long"`` (a segment of at least ``length``
    characters was skipped; ``sample`` shows its start).

    Compared and hashed by identity, so a batch's items can all be looked up in a dict of segment texts (see
    :meth:`gateway.edi.x12.validate.TransactionValidator.run`).
    """

    kind: str
    header: IsaHeader | None = None
    delimiters: Delimiters | None = None
    text: str = ""
    sample: str = ""
    length: int = 0
    elements: list[int] = field(default_factory=list)


def decoded_chunks(source: Source, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """Decode ``source`` in chunks (UTF-8, ``surrogateescape``), dropping a leading BOM."""
    first = True
    if isinstance(source, str):
        for i in range(0, len(source), chunk_size):
            chunk = source[i:i + chunk_size]
            if first:
                chunk, first = chunk.lstrip("\ufeff"), False
            yield chunk
        return
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    blocks: Iterable[bytes | memoryview]
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        blocks = (view[i:i + chunk_size] for i in range(0, len(view), chunk_size))
    else:
        blocks = iter(lambda: source.read(chunk_size), b"")
    for block in blocks:
        chunk = decoder.decode(block)
        if first and chunk:
            chunk, first = chunk.lstrip("\ufeff"), False
        if chunk:
            yield chunk
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def _ws_pattern(terminator: str) -> re.Pattern[str]:
    if terminator == "\n":
        return re.compile(r"[\r\n][^\S\x1c-\x1f]*")  # whitespace, but not the FS/GS/RS/US separators
    return re.compile(re.escape(terminator) + r"[^\S\x1c-\x1f]+")


def iter_raw(
    source: Source, *, chunk_size: int = CHUNK_SIZE, max_segment_length: int = MAX_SEGMENT_LENGTH
) -> Iterator[str | ReaderEvent]:
    """Segment texts (terminator and surrounding whitespace removed) and :class:`ReaderEvent` objects."""
    for batch in iter_batches(source, chunk_size=chunk_size, max_segment_length=max_segment_length):
        yield from batch


def iter_batches(
    source: Source, *, chunk_size: int = CHUNK_SIZE, max_segment_length: int = MAX_SEGMENT_LENGTH
) -> Iterator[list[str | ReaderEvent]]:
    """What :func:`iter_raw` yields, in lists (at most one chunk's worth each): consumers loop over a list
    instead of resuming a generator per segment, which is most of a reader's cost in Python."""
    batch: list[str | ReaderEvent] = []
    out = batch.append
    chunks = decoded_chunks(source, chunk_size)
    buf = ""
    eof = False

    def more() -> bool:
        nonlocal buf, eof
        if eof:
            return False
        for chunk in chunks:
            buf += chunk
            return True
        eof = True
        return False

    junk = 0
    junk_sample = ""
    while True:
        if batch:
            yield batch
            batch = []
            out = batch.append
        # ---------------------------------------------------------------- between interchanges: find a start
        buf = buf.lstrip(_BETWEEN)
        while len(buf) < 128 and more():  # enough text to recognise a start, whatever the chunk size
            buf = buf.lstrip(_BETWEEN)
        if not buf:
            if junk:
                out(ReaderEvent("junk", length=junk, sample=junk_sample))
            if batch:
                yield batch
            return
        delims: Delimiters | None = None
        if buf.startswith("ISA"):
            while len(buf) < HEADER_WINDOW and more():
                pass
            header = parse_isa(buf, final=eof)
            while header is None:  # parse_isa wants more text; more() is true here since eof is false
                more()
                header = parse_isa(buf, final=eof)
            if junk:
                out(ReaderEvent("junk", length=junk, sample=junk_sample))
                junk, junk_sample = 0, ""
            out(ReaderEvent("isa", header=header))
            if header.delimiters is None:
                buf = buf[3:]  # unusable: look for the next start after this ISA
                junk += 3
                continue
            delims = header.delimiters
            buf = buf[header.length:]
        elif looks_like_bare_start(buf):
            while len(buf) < 1024 and more():
                pass
            guessed = guess_bare_delimiters(buf)
            if guessed is not None:
                if junk:
                    out(ReaderEvent("junk", length=junk, sample=junk_sample))
                    junk, junk_sample = 0, ""
                out(ReaderEvent("bare", delimiters=guessed))
                delims = guessed
        if delims is None:
            # not X12 here: skip to the next line starting with ISA/ST/GS, or to any ISA+separator
            m = _SEGMENT_START.search(buf, 1)
            m2 = _ISA_ANYWHERE.search(buf, 1)
            cut = min((x.start() for x in (m, m2) if x is not None), default=-1)
            if cut == -1:
                cut = max(len(buf) - 8, 1) if not eof else len(buf)
            if not junk_sample:
                junk_sample = buf[:40]
            junk += cut
            buf = buf[cut:]
            if not eof and len(buf) < 64:
                more()
            continue
        # ---------------------------------------------------------------- inside an interchange
        term = delims.segment
        elem = delims.element
        newline_term = term == "\n"
        ws = _ws_pattern(term)
        after = term + "\n"
        after_crlf = term + "\r\n"
        dirty = _dirty_pattern(after)
        restart = False
        while not restart:
            if batch:
                yield batch
                batch = []
                out = batch.append
            if buf and buf[0] in _BETWEEN:
                buf = buf.lstrip(_BETWEEN)
            fast = _run_after(buf, term, after, dirty) if not newline_term else None
            if fast is not None:  # the usual chunk: no checks per segment (see _run_after)
                tail = fast.pop()
                batch.extend(fast)
                breaks = False
            else:
                if newline_term:
                    if "\r" in buf or "\n\n" in buf or "\n " in buf or "\n\t" in buf:
                        buf = ws.sub("\n", buf)
                    breaks = False
                else:
                    n_term = buf.count(term)
                    if n_term and buf.count(after) == n_term:
                        buf = buf.replace(after, term)
                    elif n_term and buf.count(after_crlf) == n_term:
                        buf = buf.replace(after_crlf, term)
                    if "\n" in buf or "\r" in buf or (term + " ") in buf or (term + "\t") in buf:
                        buf = ws.sub(term, buf)
                    breaks = "\n" in buf or "\r" in buf
                parts = buf.split(term)
                tail = parts.pop()
                i = 0
                n = len(parts)
                if n and not breaks and _plain_run(buf, parts[0], term):
                    batch.extend(parts)  # no interchange boundary, empty or padded segment: no per-segment checks
                    i = n
                while i < n:
                    p = parts[i]
                    i += 1
                    if not p:
                        continue
                    c0 = p[0]
                    if c0 == "I":
                        if p.startswith("IEA"):
                            out(p)
                            if i < n:  # fast path: the next interchange is a standard ISA with the same delimiters
                                nxt = _same_isa(parts[i], elem, term, delims)
                                if nxt is not None:
                                    out(nxt)
                                    i += 1
                                    continue
                            # the rest goes back to the "between interchanges" state (delimiters may change)
                            rest = parts[i:]
                            rest.append(tail)
                            buf = term.join(rest)
                            restart = True
                            break
                        if p.startswith("ISA") and len(p) > 3 and p[3] == elem:
                            rest = parts[i - 1:]
                            rest.append(tail)
                            buf = term.join(rest)
                            restart = True
                            break
                    elif c0 in _BETWEEN:
                        p = p.lstrip(_BETWEEN)
                        if not p:
                            continue
                    if breaks and ("\n" in p or "\r" in p):
                        out(_unwrap(p, elem))
                        continue
                    out(p)
                if restart:
                    break
            buf = tail
            if len(buf) > max_segment_length:
                out(ReaderEvent("too_long", sample=buf[:40], length=len(buf)))
                buf = ""
                while True:  # drop everything up to the next terminator
                    if not more():
                        if batch:
                            yield batch
                        return
                    k = buf.find(term)
                    if k != -1:
                        buf = buf[k + 1:]
                        break
                    buf = ""
                continue
            if not more():
                rest_text = buf.strip(_BETWEEN)
                if rest_text:
                    if breaks and ("\n" in rest_text or "\r" in rest_text):
                        out(_unwrap(rest_text, elem))
                    else:
                        out(rest_text)
                if batch:
                    yield batch
                return


def _dirty_pattern(after: str) -> re.Pattern[str]:
    """After a terminator and its line break: what needs the per-segment path (ISA/IEA, an empty segment,
    whitespace or padding; see :func:`_plain_run`)."""
    return re.compile(re.escape(after) + "[I" + re.escape(after[0]) + "\\s\x00\x1a\ufeff]")


def _run_after(buf: str, term: str, after: str, dirty: re.Pattern[str]) -> list[str] | None:
    """The segments of ``buf`` (its tail last) when every terminator is followed by exactly one line break and
    nothing else needs attention (what the general path would find after removing those line breaks, in fewer
    passes over the text); ``None`` otherwise."""
    n_term = buf.count(term)
    if not n_term or "\r" in buf or buf.count("\n") != n_term or dirty.search(buf) is not None:
        return None
    parts = buf.split(after)
    if len(parts) != n_term + 1:  # a terminator without its line break (or the break in the next chunk)
        return None
    first = parts[0]
    if not first or first[0] == "I" or first[0] in _BETWEEN:
        return None
    return parts


def _plain_run(buf: str, first: str, term: str) -> bool:
    """True when no segment of ``buf`` starts with ``I`` (ISA, IEA), is empty or starts with padding."""
    return (
        first[:1] not in ("", "I")
        and first[0] not in _BETWEEN
        and (term + "I") not in buf
        and (term + term) not in buf
        and (term + "\x00") not in buf
        and (term + "\x1a") not in buf
        and (term + "\ufeff") not in buf
    )


def _same_isa(text: str, element: str, terminator: str, current: Delimiters) -> ReaderEvent | None:
    """An ``isa`` event when ``text`` is a fixed-width ISA using the current element separator and terminator."""
    if len(text) != 105 or not text.startswith("ISA") or text[3] != element:
        return None
    header = parse_isa(text + terminator, final=True)
    if header is None or header.problems or header.delimiters is None:
        return None
    d = header.delimiters
    if d.element != element or d.segment != terminator:
        return None
    header.delimiters = replace(d, suffix=current.suffix)
    return ReaderEvent("isa", header=header)


def _unwrap(text: str, element: str) -> ReaderEvent:
    """A segment with line breaks inside: remove them, remember in which elements they were."""
    positions: list[int] = []
    for k, value in enumerate(text.split(element)):
        if "\n" in value or "\r" in value:
            positions.append(k)
    return ReaderEvent("line_break", text=text.replace("\r", "").replace("\n", ""), elements=positions)


@dataclass(slots=True)
class ReaderNote:
    """Something the reader noticed: ``kind`` as in :class:`ReaderEvent`, after segment ``position``."""

    kind: str
    position: int
    detail: str = ""


class X12Reader:
    """Iterate the segments of any X12 source; see the module docstring.

    ``headers`` holds the :class:`~gateway.edi.x12.delimiters.IsaHeader` of each interchange met so far and
    ``notes`` what else the reader noticed (junk, wrapped or oversized segments). The reader never raises for bad
    input; validation is the envelope analyser's job (:func:`gateway.edi.x12.analyze`).
    """

    def __init__(
        self,
        source: Source | None,
        *,
        chunk_size: int = CHUNK_SIZE,
        max_segment_length: int = MAX_SEGMENT_LENGTH,
    ) -> None:
        self._source = source
        self._chunk_size = chunk_size
        self._max = max_segment_length
        self.headers: list[IsaHeader] = []
        self.notes: list[ReaderNote] = []
        self.delimiters: Delimiters | None = None

    def __iter__(self) -> Iterator[Segment]:
        assert self._source is not None, "a reader made by from_batches iterates with segments()"
        return self.segments(iter_batches(self._source, chunk_size=self._chunk_size, max_segment_length=self._max))

    @classmethod
    def from_batches(cls) -> X12Reader:
        """A reader for batches already read (:meth:`segments`), e.g. the ones :func:`gateway.edi.x12.analyze`
        handed to its ``tap``: the same segments as reading the source again, without reading it again."""
        return cls(None)

    def segments(self, batches: Iterable[list[str | ReaderEvent]]) -> Iterator[Segment]:
        """The segments of :func:`iter_batches`' output (what iterating the reader yields for its source)."""
        delims = Delimiters()
        position = 0
        for batch in batches:
            for item in batch:
                if type(item) is str:
                    position += 1
                    yield Segment(item, delims, position)
                    continue
                assert isinstance(item, ReaderEvent)
                if item.kind == "isa":
                    header = item.header
                    assert header is not None
                    self.headers.append(header)
                    if header.delimiters is None:
                        self.notes.append(ReaderNote("isa", position, "unusable ISA"))
                        continue
                    delims = header.delimiters
                    self.delimiters = delims
                    position += 1
                    isa = Segment(delims.element.join(["ISA", *header.elements]), delims, position)
                    yield isa
                elif item.kind == "bare":
                    assert item.delimiters is not None
                    delims = item.delimiters
                    self.delimiters = delims
                    self.notes.append(ReaderNote("bare", position))
                elif item.kind == "line_break":
                    position += 1
                    self.notes.append(ReaderNote("line_break", position))
                    yield Segment(item.text, delims, position)
                else:
                    self.notes.append(ReaderNote(item.kind, position, item.sample))


def read_segments(source: Source) -> list[Segment]:
    """All segments of ``source`` (convenience for small inputs; iterate :class:`X12Reader` for large ones)."""
    return list(X12Reader(source))
