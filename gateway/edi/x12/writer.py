"""Writing X12: segments to bytes with a partner's delimiters, and envelopes with correct counts.

Public API::

    from gateway.edi.x12.writer import X12Writer, WriterOptions, Envelope, write_segments

    w = X12Writer(WriterOptions(delimiters=Delimiters("*", ">", "^", "~", suffix="\\n"), uppercase=False))
    w.segment(["N1", "ST", "ACME"])            # a list (element 0 is the id) or a Segment
    data: bytes = w.getvalue()

    data = write_interchange(envelope, [("SH", "004010", [[seg, seg, ...], ...])], options)

Values are written as given, except that: a value given as a list/tuple is a composite (joined with the component
separator); a :class:`~gateway.edi.x12.segment.Segment` read with other delimiters has its composites and
repetitions re-delimited; trailing empty elements are dropped (X12.6); ``uppercase`` upper-cases data. A value
that contains one of the output delimiters raises :class:`ValueError` (the writer never emits ambiguous X12).
The ISA is written fixed-width (ISA02/04/06/08 space-padded, ISA13 zero-padded to 9 digits) unless
``pad_isa`` is false; ISA16 (and ISA11 from version 00402 on) always follow the output delimiters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.segment import Segment

SegmentLike = Segment | Sequence[str | Sequence[str]]


@dataclass(frozen=True, slots=True)
class WriterOptions:
    """How to write: delimiters (``delimiters.suffix`` follows each terminator), upper-casing, encoding."""

    delimiters: Delimiters = field(default_factory=lambda: Delimiters("*", ">", None, "~", "\n"))
    uppercase: bool = False
    encoding: str = "utf-8"
    pad_isa: bool = True

    def __post_init__(self) -> None:
        problems = self.delimiters.problems()
        if problems:
            raise ValueError("unusable delimiters: " + "; ".join(problems))


# Segments written are kept as text joined per FOLD segments: a 997 for 100,000 sets is 200,000 segments, which as
# one string each held about 15 MB at once (the bytes returned are 2.6 MB).
FOLD = 2048


class X12Writer:
    """Accumulates segments as text; :meth:`getvalue` returns the bytes."""

    def __init__(self, options: WriterOptions | None = None) -> None:
        self.options = options or WriterOptions()
        d = self.options.delimiters
        self._el = d.element
        self._comp = d.component or ":"
        self._rep = d.repetition
        self._end = d.segment + d.suffix
        self._forbidden = {c for c in (d.element, d.component, d.repetition, d.segment) if c}
        self._others = tuple(c for c in self._forbidden if c != d.element)
        self._plain = not self.options.uppercase and len(d.element) == 1
        self._parts: list[str] = []
        self._folded: list[str] = []  # runs of FOLD segments joined: one string each, not one object per segment
        self.count = 0

    def _value(self, value: str | Sequence[str], source: Delimiters | None) -> str:
        if not isinstance(value, str):
            text = self._comp.join(self._clean(v) for v in value)
            return text.rstrip(self._comp) if text else text
        if source is not None and (source.component or source.repetition):
            reps = value.split(source.repetition) if source.repetition else [value]
            if len(reps) > 1 and not self._rep:
                raise ValueError(f"value {value!r} has repetitions but the output has no repetition separator")
            out = []
            for rep in reps:
                comps = rep.split(source.component) if source.component else [rep]
                out.append(self._comp.join(self._clean(c) for c in comps))
            return (self._rep or "").join(out)
        return self._clean(value)

    def _clean(self, value: str) -> str:
        if self.options.uppercase:
            value = value.upper()
        for c in self._forbidden:
            if c in value:
                raise ValueError(f"value {value!r} contains the delimiter {c!r}")
        return value

    def segment(self, segment: SegmentLike) -> None:
        if type(segment) is list and self._plain and segment and segment[0] != "ISA":
            # the usual segment built in memory: text values only, no delimiter inside one (one join and a few
            # counts instead of a check per value; anything else takes the general path below, which raises)
            try:
                text = self._el.join(segment)
            except TypeError:
                text = None
            if text is not None and text.count(self._el) == len(segment) - 1 and not any(
                    c in text for c in self._others):
                self._parts.append((text.rstrip(self._el) if text.endswith(self._el) else text) + self._end)
                self.count += 1
                if len(self._parts) >= FOLD:
                    self._fold()
                return
        if isinstance(segment, Segment):
            values: Sequence[str | Sequence[str]] = segment.elements
            source: Delimiters | None = segment.delimiters
        else:
            values, source = segment, None
        if not values:
            raise ValueError("a segment needs at least its id")
        if values[0] == "ISA":
            self.isa([str(v) for v in values[1:]])
            return
        parts = [self._clean(str(values[0]))]
        parts.extend(self._value(v, source) for v in values[1:])
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        self._parts.append(self._el.join(parts) + self._end)
        if len(self._parts) >= FOLD:
            self._fold()
        self.count += 1

    def isa(self, header: Sequence[str]) -> None:
        """Write an ISA from its 16 values; ISA11 (from 00402) and ISA16 follow the output delimiters.
        Padded to the fixed widths unless ``WriterOptions.pad_isa`` is false."""
        if self.options.pad_isa:
            values = fixed_width_isa(header, self.options.delimiters)
        else:  # as given, except ISA11/ISA16, which follow the delimiters
            d = self.options.delimiters
            values = [str(v) for v in list(header)[:15]] + [""] * max(0, 15 - len(header))
            if values[11] >= "00402" and d.repetition:
                values[10] = d.repetition
            elif values[10] in (d.element, d.component, d.repetition, d.segment):
                values[10] = "U"
            values = [v if i == 10 else self._clean(v) for i, v in enumerate(values)] + [d.component or ":"]
        self._parts.append(self._el.join(["ISA", *values]) + self._end)
        self.count += 1

    def _fold(self) -> None:
        self._folded.append("".join(self._parts))
        self._parts.clear()

    def text(self) -> str:
        return "".join([*self._folded, *self._parts])

    def getvalue(self) -> bytes:
        return self.text().encode(self.options.encoding, "surrogateescape")


def fixed_width_isa(values: Sequence[str], delimiters: Delimiters) -> list[str]:
    """ISA01..ISA16 padded to the fixed widths; ISA11 and ISA16 follow the delimiters and ISA12."""
    widths = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
    out = [str(v) for v in list(values)[:16]] + [""] * max(0, 16 - len(values))
    for i in (1, 3, 5, 7):  # AN fields: space padded
        out[i] = out[i].ljust(widths[i])[: widths[i]]
    out[12] = out[12].strip().zfill(9)
    if out[11] >= "00402":
        out[10] = delimiters.repetition or "^"
    else:
        out[10] = "U"
    out[15] = delimiters.component or ":"
    for i, w in enumerate(widths):
        if len(out[i]) != w:
            raise ValueError(f"ISA{i + 1:02d} {out[i]!r} must be {w} characters")
    return out


@dataclass(slots=True)
class Envelope:
    """Values for ISA and GS; control numbers are given (the caller owns the counters)."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str  # CCYYMMDD
    time: str  # HHMM
    interchange_control: int
    version: str = "00401"  # ISA12
    usage: str = "P"
    ack_requested: bool = False
    authorization_qualifier: str = "00"
    authorization: str = ""
    security_qualifier: str = "00"
    security: str = ""

    def isa_values(self) -> list[str]:
        return [
            self.authorization_qualifier, self.authorization, self.security_qualifier, self.security,
            self.sender_qualifier, self.sender_id, self.receiver_qualifier, self.receiver_id,
            self.date[-6:], self.time[:4], "U", self.version, f"{self.interchange_control:09d}",
            "1" if self.ack_requested else "0", self.usage, "",
        ]


@dataclass(slots=True)
class GroupSpec:
    """One functional group to write: GS values and its transaction sets (segment lists without ST/SE)."""

    functional_id: str
    version: str  # GS08
    control_number: int
    transactions: list[tuple[str, Iterable[SegmentLike]]]  # (set id, body segments: a list, or made while written)
    sender_id: str | None = None  # GS02 (default: the interchange sender)
    receiver_id: str | None = None  # GS03
    implementation_reference: str | None = None  # ST03


def write_interchange(
    envelope: Envelope,
    groups: Iterable[GroupSpec],
    options: WriterOptions | None = None,
    *,
    interchange_acks: Iterable[Sequence[str]] = (),
) -> bytes:
    """A complete interchange: ISA, TA1s, groups (GS, ST..SE numbered 0001.. inside each group, GE), IEA."""
    w = X12Writer(options)
    w.isa(envelope.isa_values())
    for ta1 in interchange_acks:
        w.segment(list(ta1))
    group_count = 0
    for g in groups:
        group_count += 1
        w.segment(["GS", g.functional_id, g.sender_id or envelope.sender_id, g.receiver_id or envelope.receiver_id,
                   envelope.date, envelope.time, str(g.control_number), "X", g.version])
        for number, (set_id, body) in enumerate(g.transactions, start=1):
            control = f"{number:04d}"
            start = w.count
            st = ["ST", set_id, control]
            if g.implementation_reference:
                st.append(g.implementation_reference)
            w.segment(st)
            for seg in body:
                w.segment(seg)
            w.segment(["SE", str(w.count - start + 1), control])
        w.segment(["GE", str(len(g.transactions)), str(g.control_number)])
    w.segment(["IEA", str(group_count), f"{envelope.interchange_control:09d}"])
    return w.getvalue()


def write_segments(segments: Iterable[SegmentLike], options: WriterOptions | None = None) -> bytes:
    """Serialise segments as they are (no envelope generated; an ISA is padded if ``options.pad_isa``)."""
    w = X12Writer(options)
    for seg in segments:
        w.segment(seg)
    return w.getvalue()
