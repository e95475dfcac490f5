"""Acknowledgements: one reply interchange (TA1 and/or 997/999 groups) for one analysed inbound interchange.

::

    ack = build_acknowledgement(interchange, control_numbers=counter,
                                options=AckOptions(timestamp=datetime(2024, 5, 1, 12, 30)))

What is sent:

* **TA1** when ISA14 asks for it, when the interchange has interchange-level errors ("broken"), or per
  ``AckOptions.ta1``. TA104 is ``R`` when the interchange cannot be processed (unusable ISA, malformed ISA,
  invalid delimiters, missing IEA): then no functional acknowledgement follows. It is ``E`` for other
  interchange errors (IEA02 mismatch, wrong IEA01, invalid ISA or GS values): the groups are still acknowledged.
  TA105 is the note code of the first such error, ``000`` when there is none. The TA1 follows the ISA and
  precedes the groups, as X12.5 orders them.
* **997** for groups of 004xxx and earlier versions (GS08 of the 997 = the first six characters of the inbound
  GS08, e.g. ``004010`` for ``004010VICS``), **999** for 005010 and later (GS08 and ST03 ``005010X231``).
  One 997/999 per inbound group, with one AK2/IK5 per transaction set (``A`` accepted, ``E`` accepted with
  errors noted, ``R`` rejected), AK3/AK4 (IK3/IK4) for segment and element errors, AK5/IK5 codes for set errors
  and AK9 per group. Groups of functional acknowledgements (GS01 ``FA``) are not acknowledged.
* The envelope mirrors the inbound one: sender and receiver swapped, ISA12 derived from the acknowledgement's
  GS08 (``00401`` for a 004010 997, ``00501`` for a 999), the inbound delimiters when they are ASCII (a newline
  terminator becomes ``~`` followed by a newline), usage indicator as received. :class:`AckOptions` overrides
  any of these.
* Control numbers come from the caller's :class:`ControlNumbers`: ``next_interchange()`` for ISA13/IEA02 and
  ``next_group()`` for each GS06/GE02. Transaction set control numbers are numbered inside each group from
  ``0001``.

Returns ``None`` when nothing is due (no TA1 requested or needed and no group to acknowledge) or when the
inbound data cannot be answered (sent without ISA, or without a usable ISA13).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Protocol, runtime_checkable

from gateway.edi.x12.datatypes import valid_date, valid_time
from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.envelope import fatal_codes
from gateway.edi.x12.issues import Issue, Level
from gateway.edi.x12.model import Group, Interchange, Transaction
from gateway.edi.x12.specs import library
from gateway.edi.x12.writer import Envelope, GroupSpec, WriterOptions, fixed_width_isa, write_interchange

#: one segment to write: the id, then element values (a list is a composite's components)
Row = Sequence[str | Sequence[str]]


@runtime_checkable
class ControlNumbers(Protocol):
    """Fresh control numbers; the gateway backs this with its database."""

    def next_interchange(self) -> int: ...

    def next_group(self) -> int: ...


@dataclass(slots=True)
class SequentialControlNumbers:
    """In-memory :class:`ControlNumbers` (tests, the CLI): counts up from the given last values."""

    interchange: int = 0
    group: int = 0

    def next_interchange(self) -> int:
        self.interchange = self.interchange % 999_999_999 + 1
        return self.interchange

    def next_group(self) -> int:
        self.group = self.group % 999_999_999 + 1
        return self.group


@dataclass(frozen=True, slots=True)
class AckOptions:
    """Partner-configurable values of the acknowledgement. ``timestamp`` is required: the engine never reads
    the clock."""

    timestamp: datetime | None = None
    functional_ack: str = "auto"  # "auto" (997 for 004xxx, 999 for 005010+), "997" or "999"
    ta1: str = "auto"  # "auto" (ISA14=1 or interchange errors), "always", "never"
    detail: bool = True  # AK3/AK4 (IK3/IK4) segment and element detail
    max_segment_notes: int = 1000  # AK3/IK3 per transaction set at most
    acknowledge_functional_acks: bool = False  # also answer groups of 997/999 (GS01 FA)
    element_separator: str | None = None
    component_separator: str | None = None
    repetition_separator: str | None = None
    segment_terminator: str | None = None
    suffix: str | None = None  # written after each terminator, e.g. "\n"
    sender_qualifier: str | None = None  # our ISA05/ISA06 (default: the inbound ISA07/ISA08)
    sender_id: str | None = None
    receiver_qualifier: str | None = None  # their ISA07/ISA08 (default: the inbound ISA05/ISA06)
    receiver_id: str | None = None
    application_sender: str | None = None  # GS02 (default: the inbound GS03)
    application_receiver: str | None = None  # GS03 (default: the inbound GS02)
    usage: str | None = None  # ISA15 (default: as received)
    version_997: str | None = None  # GS08 of 997 groups (default: first six characters of the inbound GS08)
    version_999: str = "005010X231"  # GS08 and ST03 of 999 groups
    uppercase: bool = False


@dataclass(frozen=True, slots=True)
class _DelimiterOptions:
    """The delimiter fields of :class:`AckOptions` (what :func:`_delimiters_of` reads)."""

    element_separator: str | None
    component_separator: str | None
    repetition_separator: str | None
    segment_terminator: str | None
    suffix: str | None


@dataclass(slots=True)
class _Bucket:
    kind: str  # "997" | "999"
    version: str  # GS08 of the acknowledgement group
    groups: list[Group] = field(default_factory=list)


def _digits(value: str, width: int | None = None) -> str:
    # the usual control number is all ASCII digits already: kept as it is, without a look at each character
    d = value if value.isascii() and value.isdigit() else "".join(c for c in value if c.isascii() and c.isdigit())
    if width is not None:
        d = d[-width:].zfill(width)
    return d


def _fit(value: str, lo: int, hi: int, pad: str = " ") -> str:
    value = value.strip()[:hi]
    return value.ljust(lo, pad) if len(value) < lo else value


def ack_kind(group: Group, interchange: Interchange, forced: str = "auto") -> str:
    """``"997"`` or ``"999"`` for an inbound group."""
    if forced in ("997", "999"):
        return forced
    version = group.version[:6]
    if version.isdigit():
        return "999" if version >= "005010" else "997"
    return "999" if interchange.version >= "00501" else "997"


def _delimiters(ic: Interchange, o: AckOptions, needs_repetition: bool) -> Delimiters:
    return _delimiters_of(ic.delimiters or Delimiters(), o.element_separator, o.component_separator,
                          o.repetition_separator, o.segment_terminator, o.suffix, needs_repetition)


@lru_cache(maxsize=64)
def _writer_options(d: Delimiters, uppercase: bool) -> WriterOptions:
    """The writer's options (checked once per delimiters, not once per acknowledgement: they are immutable)."""
    return WriterOptions(delimiters=d, uppercase=uppercase)


@lru_cache(maxsize=64)
def _delimiters_of(src: Delimiters, element_separator: str | None, component_separator: str | None,
                   repetition_separator: str | None, segment_terminator: str | None, suffix_option: str | None,
                   needs_repetition: bool) -> Delimiters:
    """The acknowledgement's delimiters from the inbound ones and the options (a pure function of its arguments,
    all immutable: the answers of a partner's files are computed once)."""
    o = _DelimiterOptions(element_separator, component_separator, repetition_separator, segment_terminator,
                          suffix_option)
    element = o.element_separator or (src.element if src.element.isascii() else "*")
    component = o.component_separator or (src.component if src.component and src.component.isascii() else None)
    segment = o.segment_terminator or src.segment
    suffix = o.suffix if o.suffix is not None else src.suffix
    if segment == "\n" or not segment.isascii() or segment.isspace():
        segment, suffix = "~", (suffix or "\n") if o.suffix is None else o.suffix
    repetition = o.repetition_separator or src.repetition
    candidates = [c for c in ">:^!|{}\\`" if c not in (element, segment)]
    if component is None or component in (element, segment):
        component = candidates[0]
    if needs_repetition and (repetition is None or repetition in (element, segment, component)):
        repetition = next(c for c in "^!{|`" if c not in (element, segment, component))
    if not needs_repetition:
        repetition = None
    d = Delimiters(element, component, repetition, segment, suffix)
    if d.problems():
        d = Delimiters("*", ":" if needs_repetition else ">", "^" if needs_repetition else None, "~", "\n")
    return d


def _ta1(ic: Interchange, o: AckOptions, fatal: bool) -> list[str]:
    assert o.timestamp is not None
    errors = [i for i in ic.errors if i.level is Level.INTERCHANGE and i.x12_code]
    errors.sort(key=lambda i: i.code not in fatal_codes())
    status = "R" if fatal else ("E" if errors else "A")
    note = errors[0].x12_code if errors else "000"
    date = ic.date if len(ic.date) == 6 and valid_date(ic.date) else o.timestamp.strftime("%y%m%d")
    time = _digits(ic.time)
    if not (len(time) == 4 and valid_time(time)):
        time = o.timestamp.strftime("%H%M")
    return ["TA1", _digits(ic.control_number, 9), date, time, status, note or "000"]


def _clean_value(value: str, d: Delimiters, limit: int = 99) -> str:
    bad = {d.element, d.segment, d.component, d.repetition}
    out = "".join(c for c in value if c not in bad and c.isprintable() and c.isascii())
    return out.strip()[:limit]


def _segment_notes(
    tx: Transaction, kind: str, d: Delimiters, o: AckOptions
) -> list[Row]:
    """AK3/AK4 (IK3/IK4) segments for the segment and element issues of a set."""
    by_segment: dict[tuple[int, str], list[Issue]] = {}
    for issue in tx.issues:
        if issue.level not in (Level.SEGMENT, Level.ELEMENT) or issue.code_for(kind) is None:
            continue
        loc = issue.location
        if loc.segment_position is None or not loc.segment_id:
            continue
        by_segment.setdefault((loc.segment_position, loc.segment_id), []).append(issue)
    seg3, seg4 = ("IK3", "IK4") if kind == "999" else ("AK3", "AK4")
    out: list[Row] = []
    for (position, seg_id), issues in sorted(by_segment.items())[: o.max_segment_notes]:
        seg_code = next((i.code_for(kind) for i in issues if i.level is Level.SEGMENT), None)
        sid = "".join(c for c in seg_id.upper() if c.isascii() and c.isalnum())[:3]
        if len(sid) < 2:
            continue
        loop = (issues[0].location.loop or "").rsplit("/", 1)[-1][:4]
        out.append([seg3, sid, str(min(position, 999999)), loop, seg_code or "8"])
        for issue in [i for i in issues if i.level is Level.ELEMENT][:99]:
            loc = issue.location
            pos = [str(min(loc.element_position or 1, 99))]
            if loc.component_position or (kind == "999" and issue.repetition):
                pos.append(str(min(loc.component_position or 1, 99)) if loc.component_position else "")
            if kind == "999" and issue.repetition:
                pos.append(str(min(issue.repetition, 9999)))
            ref = issue.element_ref if issue.element_ref and issue.element_ref.isdigit() else ""
            bad = _clean_value(issue.bad_value, d) if issue.bad_value else ""
            out.append([seg4, pos if len(pos) > 1 else pos[0], ref, issue.code_for(kind) or "6", bad])
    return out


def _set_response(tx: Transaction, group_rejected_version: bool, kind: str, d: Delimiters,
                  o: AckOptions) -> tuple[list[Row], bool]:
    set_id = tx.set_id if len(tx.set_id) == 3 and tx.set_id.isdigit() else ""
    if not set_id:
        return [], False
    control = tx.control_number.strip()
    control = control[-9:] if len(control) > 9 else control.zfill(4) if control.isdigit() else control.ljust(4, "0")
    ak2 = ["AK2", set_id, control]
    if kind == "999" and tx.implementation_reference:
        ak2.append(_clean_value(tx.implementation_reference, d, 35))
    segs: list[Row] = [ak2]
    if group_rejected_version:
        status, codes = "R", ["1"]
    else:
        status = tx.ack_status
        notes = _segment_notes(tx, kind, d, o) if o.detail and status != "A" else []
        segs.extend(notes)
        codes = []
        for issue in tx.issues:
            if issue.level is Level.TRANSACTION and (issue.is_error or status == "E"):
                code = issue.code_for(kind)
                if code and code not in codes:
                    codes.append(code)
        has_segment_errors = any(i.level in (Level.SEGMENT, Level.ELEMENT) and i.is_error for i in tx.issues)
        if has_segment_errors and "5" not in codes:
            codes.append("5")
        if status == "R" and not codes:
            codes.append("5")
    segs.append(["IK5" if kind == "999" else "AK5", status, *codes[:5]])
    return segs, status in ("A", "E")


def _group_response(g: Group, kind: str, version: str, d: Delimiters, o: AckOptions) -> Iterator[Row]:
    """The 997/999 body for one group, made while the writer consumes it: a group of 100,000 sets has 200,000
    AK2/AK5 rows, which built as one list first held about 20 MB at once."""
    ak1 = ["AK1", g.functional_id, _digits(g.control_number)[-9:] or "0"]
    if kind == "999":
        ak1.append(_clean_value(g.version, d, 12) or version)
    yield ak1
    group_errors = [i for i in g.errors if i.level is Level.GROUP]
    version_rejected = any(i.code == "group_version_unsupported" for i in group_errors)
    accepted = 0
    received = 0
    any_noted = False
    for tx in g.transactions:
        segs, ok = _set_response(tx, version_rejected, kind, d, o)
        if not segs:
            continue
        received += 1
        accepted += ok
        any_noted = any_noted or segs[-1][1] == "E"
        yield from segs
    codes: list[str] = []
    for issue in group_errors:
        code = issue.code_for(kind)
        if code and code not in codes:
            codes.append(code)
    if group_errors:
        status = "R"
    elif received == 0 or accepted == received:
        status = "E" if any_noted else "A"
    elif accepted == 0:
        status = "R"
    else:
        status = "P"
    declared = _digits(g.declared_count or "")
    ak902 = str(int(declared)) if declared and len(declared) <= 6 else str(received)
    yield ["AK9", status, ak902, str(received), str(accepted), *codes[:5]]


def build_acknowledgement(
    interchange: Interchange,
    *,
    control_numbers: ControlNumbers,
    options: AckOptions | None = None,
) -> bytes | None:
    """The acknowledgement interchange for one analysed inbound interchange (see the module docstring)."""
    o = options or AckOptions()
    if o.timestamp is None:
        raise ValueError("AckOptions.timestamp is required: the X12 engine never reads the clock")
    ic = interchange
    if not ic.enveloped or not _digits(ic.control_number) or ic.delimiters is None:
        return None
    usual = _accepted_set(ic, o, control_numbers)
    if usual is not None:
        return usual
    fatal = ic.fatal or any(i.code in fatal_codes() for i in ic.errors)
    broken = any(i.level is Level.INTERCHANGE for i in ic.errors)
    ta1_due = o.ta1 == "always" or (o.ta1 == "auto" and (ic.ack_requested or broken))
    buckets: dict[tuple[str, str], _Bucket] = {}
    if not fatal:
        for g in ic.groups:
            if not g.enveloped or (g.functional_id == "FA" and not o.acknowledge_functional_acks):
                continue
            kind = ack_kind(g, ic, o.functional_ack)
            if kind == "999":
                version = o.version_999
            else:
                base = g.version[:6] if g.version[:6].isdigit() else "004010"
                version = o.version_997 or base
            bucket = buckets.setdefault((kind, version), _Bucket(kind, version))
            bucket.groups.append(g)
    if not (ta1_due and o.ta1 != "never") and not buckets:
        return None
    needs_repetition = any(b.kind == "999" or b.version[:5] >= "00402" for b in buckets.values())
    first = next(iter(buckets.values()), None)
    if first is not None:
        isa12 = first.version[:5] if first.kind == "997" else "00501"
    else:
        isa12 = ic.version if ic.version in library().control_sets()[0]["I11"] else "00401"
        needs_repetition = isa12 >= "00402"
    d = _delimiters(ic, o, needs_repetition)
    envelope = _envelope(ic, o, isa12, control_numbers)
    ta1s = [_ta1(ic, o, fatal)] if ta1_due and o.ta1 != "never" else []
    specs = [_group_spec(envelope, o, b.groups, b.kind, b.version, d, control_numbers) for b in buckets.values()]
    return write_interchange(envelope, specs, _writer_options(d, o.uppercase), interchange_acks=ta1s)


def _envelope(ic: Interchange, o: AckOptions, isa12: str, control_numbers: ControlNumbers) -> Envelope:
    """The acknowledgement's ISA/GS values (draws its interchange control number)."""
    assert o.timestamp is not None
    date, time = _stamp(o.timestamp)
    valid_qualifiers = library().control_sets()[0]["I05"]

    def qualifier(value: str | None, fallback: str) -> str:
        v = (value or fallback).strip()
        return v if v in valid_qualifiers else "ZZ"

    usage = o.usage or (ic.usage if ic.usage in ("P", "T", "I") else "P")
    if usage == "I" and isa12 < "00501":
        usage = "T"
    return Envelope(
        sender_qualifier=qualifier(o.sender_qualifier, ic.receiver_qualifier),
        sender_id=_fit(o.sender_id or ic.receiver_id, 1, 15) or "UNKNOWN",
        receiver_qualifier=qualifier(o.receiver_qualifier, ic.sender_qualifier),
        receiver_id=_fit(o.receiver_id or ic.sender_id, 1, 15) or "UNKNOWN",
        date=date,
        time=time,
        interchange_control=control_numbers.next_interchange(),
        version=isa12,
        usage=usage,
    )


@lru_cache(maxsize=16)
def _stamp(ts: datetime) -> tuple[str, str]:
    """GS04 and GS05 (ISA09 and ISA10 from them) of a timestamp: a batch's acknowledgements share one."""
    return ts.strftime("%Y%m%d"), ts.strftime("%H%M")


def _accepted_set(ic: Interchange, o: AckOptions, control_numbers: ControlNumbers) -> bytes | None:
    """The usual acknowledgement, written from its pieces: a 997 accepting the one set of the one group of an
    interchange without any issue, no TA1. The same bytes as :func:`build_acknowledgement`'s general path (whose
    writer costs most of an acknowledgement's build: a call per segment, each checked), which takes anything
    else: None then, before any control number is drawn. Tested against the general path over the corpus."""
    if ic.issues or ic.fatal or len(ic.groups) != 1 or o.uppercase or o.ta1 == "always" or (
            o.ta1 == "auto" and ic.ack_requested):
        return None
    g = ic.groups[0]
    if not g.enveloped or g.functional_id == "FA" or g.issues or len(g.transactions) != 1:
        return None
    tx = g.transactions[0]
    if tx.issues or tx.ack_status != "A" or ack_kind(g, ic, o.functional_ack) != "997":
        return None
    set_id = tx.set_id if len(tx.set_id) == 3 and tx.set_id.isdigit() else ""
    if not set_id:
        return None
    version = o.version_997 or (g.version[:6] if g.version[:6].isdigit() else "004010")
    isa12 = version[:5]
    d = _delimiters(ic, o, isa12 >= "00402")
    marks = [c for c in (d.element, d.component, d.repetition, d.segment) if c]
    if any(len(c) != 1 or c.isalnum() for c in marks):
        return None  # never from _delimiters_of; the writer's general path decides
    control = tx.control_number.strip()
    control = control[-9:] if len(control) > 9 else control.zfill(4) if control.isdigit() else control.ljust(4, "0")
    declared = _digits(g.declared_count or "")
    ak902 = str(int(declared)) if declared and len(declared) <= 6 else "1"
    group_control = _digits(g.control_number)[-9:] or "0"
    app_sender, app_receiver = o.application_sender or g.receiver_id, o.application_receiver or g.sender_id
    values = (g.functional_id, control, version, app_sender or "", app_receiver or "")
    if any(c in v for v in values for c in marks):
        return None  # the writer refuses a value holding a delimiter: the general path raises it
    envelope = _envelope(ic, o, isa12, control_numbers)
    gs02 = _fit(app_sender or envelope.sender_id, 2, 15)
    gs03 = _fit(app_receiver or envelope.receiver_id, 2, 15)
    if any(c in v for v in (gs02, gs03) for c in marks):  # an ID of ours or theirs (ISA values are not checked)
        spec = _group_spec(envelope, o, [g], "997", version, d, control_numbers)
        return write_interchange(envelope, [spec], _writer_options(d, o.uppercase))
    gcn = str(control_numbers.next_group())
    e, end = d.element, d.segment + d.suffix
    isa = e.join(["ISA", *fixed_width_isa(envelope.isa_values(), d)])
    rows = (
        isa,
        e.join(("GS", "FA", gs02, gs03, envelope.date, envelope.time, gcn, "X", version)),
        e.join(("ST", "997", "0001")),
        e.join(("AK1", g.functional_id, group_control)),
        e.join(("AK2", set_id, control)),
        e.join(("AK5", "A")),
        e.join(("AK9", "A", ak902, "1", "1")),
        e.join(("SE", "6", "0001")),
        e.join(("GE", "1", gcn)),
        e.join(("IEA", "1", f"{envelope.interchange_control:09d}")),
    )
    return (end.join(rows) + end).encode(_writer_options(d, o.uppercase).encoding, "surrogateescape")


def _group_spec(envelope: Envelope, o: AckOptions, groups: list[Group], kind: str, version: str, d: Delimiters,
                control_numbers: ControlNumbers) -> GroupSpec:
    """One 997/999 group answering ``groups`` (one set each, bodies made while the writer consumes them), its GS06
    drawn now; GS02/GS03 from the options, else the first group's receiver/sender, else the envelope's."""
    lead = groups[0]
    return GroupSpec(
        functional_id="FA",
        version=version,
        control_number=control_numbers.next_group(),
        transactions=[(kind, _group_response(g, kind, version, d, o)) for g in groups],  # type: ignore[misc]
        sender_id=_fit(o.application_sender or lead.receiver_id or envelope.sender_id, 2, 15),
        receiver_id=_fit(o.application_receiver or lead.sender_id or envelope.receiver_id, 2, 15),
        implementation_reference=version if kind == "999" else None,
    )
