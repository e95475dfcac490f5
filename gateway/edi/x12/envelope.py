"""The envelope analyser: walks the reader's output once, builds the :class:`~gateway.edi.x12.model.Analysis`,
checks ISA/IEA, GS/GE and ST/SE (structure, counts, control numbers, dates, times, codes) and hands every segment
of a transaction set to its :class:`~gateway.edi.x12.validate.TransactionValidator`.

Segment positions in issues: inside a transaction set, the position counted from ST (= 1), as AK3/IK3 need it;
for envelope segments, the ordinal of the segment in the file. ``Issue.file_segment`` always holds the latter.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from gateway.edi.x12 import compiled
from gateway.edi.x12.datatypes import valid_date, valid_time
from gateway.edi.x12.delimiters import ISA_WIDTHS, Delimiters, IsaHeader
from gateway.edi.x12.elements import SegmentChecker
from gateway.edi.x12.issues import Issue, Severity, make_issue
from gateway.edi.x12.model import NO_ISSUES, Analysis, Group, Interchange, InterchangeAck, Transaction
from gateway.edi.x12.reader import MAX_SEGMENT_LENGTH, ReaderEvent, Source, iter_batches
from gateway.edi.x12.rules import NO_RULES, Rules
from gateway.edi.x12.specs import SpecLibrary, library
from gateway.edi.x12.validate import TransactionValidator
from gateway.errors import Location

_CONTROL = frozenset(("SE", "ST", "GE", "GS", "IEA", "ISA"))
_FATAL_INTERCHANGE = frozenset(("iea_missing", "isa_malformed", "delimiter_invalid"))


def _num(value: str) -> int | None:
    v = value.strip()
    return int(v) if v.isascii() and v.isdigit() else None


class EnvelopeAnalyzer:
    """One analysis run (see :func:`gateway.edi.x12.analyze`)."""

    def __init__(
        self,
        *,
        tolerant: bool = False,
        file: str | None = None,
        rules: Rules | None = None,
        default_version: str = "004010",
        max_issues: int = 1000,
        max_issues_per_item: int = 200,
        specs: SpecLibrary | None = None,
        max_segment_length: int = MAX_SEGMENT_LENGTH,
    ) -> None:
        self.tolerant = tolerant
        self.file = file
        self.rules = rules or NO_RULES
        self.default_version = default_version
        self.max_issues = max_issues
        self.max_per_item = max_issues_per_item
        self.specs = specs or library()
        self.max_segment_length = max_segment_length
        self.analysis = Analysis(file=file, tolerant=tolerant)
        self.ic: Interchange | None = None
        self.group: Group | None = None
        self.tx: Transaction | None = None
        self.validator: TransactionValidator | None = None
        self.delims = Delimiters()
        self.fs = 0  # file segment ordinal
        self.pos = 0  # position in the current transaction set
        self.bare = False
        self.group_controls: set[str] = set()
        self.set_controls: set[str] = set()
        self.before_groups = True
        # per analysis: merged rules by group version, and the shared compiled checkers by spec, rules, delimiters
        self._merged: dict[str, Rules] = {}
        self._compiled: dict[tuple[Any, ...], tuple[dict[str, SegmentChecker], dict[str, str]]] = {}
        control = self.specs.control
        self._isa_rules = control["isa"]
        self._codes = {k: frozenset(v) for k, v in control["codes"].items()}
        self._agencies = frozenset(control["responsible_agency"])
        self._functional_ids = self.specs.functional_ids()

    # ------------------------------------------------------------------------------------------------ issues
    def _add(self, issue: Issue, owner: Any) -> None:
        a = self.analysis
        is_error = issue.severity is Severity.ERROR
        if is_error:
            a.error_count += 1
            if isinstance(owner, Transaction):
                owner.error_count += 1
        if owner is not None and len(owner.issues) < self.max_per_item:
            if owner.issues is NO_ISSUES:
                owner.issues = []
            owner.issues.append(issue)
        if len(a.issues) < self.max_issues:
            a.issues.append(issue)
        else:
            a.suppressed += 1

    def _context(self) -> dict[str, Any]:
        return {
            "interchange": self.ic.control_number if self.ic is not None and self.ic.enveloped else None,
            "group": self.group.control_number if self.group is not None and self.group.enveloped else None,
        }

    def envelope_issue(
        self, code: str, message: str, owner: Any, segment_id: str | None, element: int | None = None,
        *, x12_code: str | None = None, severity: Severity | None = None, position: int | None = None,
    ) -> None:
        loc = Location(file=self.file, segment_position=position if position is not None else self.fs,
                       segment_id=segment_id, element_position=element)
        issue = make_issue(code, message, tolerant=self.tolerant, severity=severity, location=loc,
                           x12_code=x12_code, file_segment=self.fs, **self._context())
        self._add(issue, owner)

    def set_issue(
        self, code: str, message: str, position: int, segment_id: str | None, *, element: int | None = None,
        component: int | None = None, repetition: int | None = None, loop: str | None = None,
        element_ref: str | None = None, bad_value: str | None = None, severity: str | Severity | None = None,
    ) -> None:
        tx = self.tx
        loc = Location(file=self.file, segment_position=position, segment_id=segment_id, element_position=element,
                       component_position=component, loop=loop or None)
        sev = Severity(severity) if severity is not None else None
        issue = make_issue(code, message, tolerant=self.tolerant, severity=sev, location=loc,
                           file_segment=self.fs, transaction=tx.control_number if tx else None,
                           set_id=tx.set_id if tx else None, element_ref=element_ref, bad_value=bad_value,
                           repetition=repetition, **self._context())
        self._add(issue, tx)

    # ------------------------------------------------------------------------------------------------ main loop
    def run(self, source: Source) -> Analysis:
        self._loop(iter_batches(source, max_segment_length=self.max_segment_length))
        self._close_all()
        a = self.analysis
        if not a.interchanges:
            a.issues.insert(0, make_issue(
                "not_edi", "no X12 interchange (ISA) or transaction set (ST) found", severity=Severity.ERROR,
                location=Location(file=self.file)))
            a.error_count += 1
        a.segment_count = self.fs
        return a

    def _loop(self, batches: Iterator[list[str | ReaderEvent]]) -> None:
        control = _CONTROL
        for batch in batches:
            i = 0
            n = len(batch)
            while i < n:
                v = self.validator
                if v is not None:  # the validator's fast path takes every segment that needs no report
                    j = v.run(batch, i, self.pos + 1)
                    if j > i:
                        self.fs += j - i
                        self.pos += j - i
                        i = j
                        if i == n:
                            break
                item = batch[i]
                i += 1
                if type(item) is str:
                    self.fs += 1
                    if self.tx is not None:
                        els = item.split(self.delims.element)
                        if els[0] not in control:
                            self.pos += 1
                            if v is not None:
                                v.segment(els, item, self.pos)
                            else:
                                self._unvalidated(els)
                            continue
                        self._control(els, item)
                    else:
                        self._control(item.split(self.delims.element), item)
                else:
                    self._event(item)  # type: ignore[arg-type]

    def _event(self, event: ReaderEvent) -> None:
        kind = event.kind
        if kind == "isa":
            assert event.header is not None
            self.fs += 1
            self._isa(event.header)
        elif kind == "bare":
            assert event.delimiters is not None
            self._close_interchange(eof=True)
            self.delims = event.delimiters
            self.bare = True
        elif kind == "junk":
            self._close_interchange(eof=True)
            sample = event.sample.encode("ascii", "backslashreplace").decode()[:30]
            self.envelope_issue("junk_data", f"{event.length} characters that are not X12 ({sample!r}...)",
                                None, None)
        elif kind == "line_break":
            self.fs += 1
            els = event.text.split(self.delims.element)
            self._segment_with_issue(els, event.text)
            for element in [e or None for e in event.elements] or [None]:
                msg = f"line break inside segment {els[0][:3]}" + (f" (element {element})" if element else "")
                if self.tx is not None:
                    self.set_issue("line_break_in_segment", msg, self.pos, els[0], element=element)
                else:
                    self.envelope_issue("line_break_in_segment", msg, self.ic, els[0], element)
        elif kind == "too_long":
            self.fs += 1
            msg = f"segment of more than {event.length} characters skipped ({event.sample[:20]!r}...)"
            seg_id = event.sample.split(self.delims.element, 1)[0][:3]
            if self.tx is not None:
                self.pos += 1
                self.set_issue("segment_too_long", msg, self.pos, seg_id)
            else:
                self.envelope_issue("segment_too_long", msg, self.ic, seg_id)

    def _segment_with_issue(self, els: list[str], text: str) -> None:
        if self.tx is not None and els[0] not in _CONTROL:
            self.pos += 1
            if self.validator is not None:
                self.validator.segment(els, text, self.pos)
            else:
                self._unvalidated(els)
        else:
            self._control(els, text)

    def _unvalidated(self, els: list[str]) -> None:
        seg_id = els[0]
        if not (2 <= len(seg_id) <= 3 and seg_id.isalnum() and seg_id.isupper() and seg_id.isascii()):
            self.set_issue("segment_unrecognized", f"{seg_id[:20]!r} is not a segment id", self.pos, seg_id[:3])

    def _control(self, els: list[str], text: str) -> None:
        seg_id = els[0]
        if seg_id == "ST":
            self._st(els)
        elif seg_id == "SE":
            self._se(els, text)
        elif seg_id == "GS":
            self._gs(els)
        elif seg_id == "GE":
            self._ge(els)
        elif seg_id == "IEA":
            self._iea(els)
        elif seg_id == "TA1" and self.ic is not None and self.group is None:
            self._ta1(els)
        elif seg_id in ("ISB", "ISE", "ISX") and self.ic is not None and self.group is None:
            self._service(els)
        elif seg_id == "ISA":  # an ISA the reader could not parse as a header
            self.envelope_issue("isa_malformed", "ISA segment could not be parsed", self.ic, "ISA", x12_code="022")
        else:
            where = "a transaction set" if self.group is not None or self.ic is not None else "an interchange"
            self.envelope_issue("interchange_content_invalid", f"segment {seg_id[:3]!r} outside {where}",
                                self.group or self.ic, seg_id[:3])

    # ------------------------------------------------------------------------------------------------ ISA / IEA
    def _isa(self, header: IsaHeader) -> None:
        self._close_interchange(eof=False)
        self.bare = False
        el = header.elements
        ic = Interchange(first_segment=self.fs)
        ic.authorization_qualifier = header.element(1)
        ic.authorization = header.element(2)
        ic.security_qualifier = header.element(3)
        ic.security = header.element(4)
        ic.sender_qualifier = header.element(5).strip()
        ic.sender_id = header.element(6).strip()
        ic.receiver_qualifier = header.element(7).strip()
        ic.receiver_id = header.element(8).strip()
        ic.date = header.element(9)
        ic.time = header.element(10)
        ic.standards_id = header.element(11)
        ic.version = header.element(12)
        ic.control_number = header.element(13)
        ic.ack_requested = header.element(14) == "1"
        ic.usage = header.element(15)
        ic.delimiters = header.delimiters
        self.analysis.interchanges.append(ic)
        self.ic = ic
        self.group_controls = set()
        self.before_groups = True
        for p in header.problems:
            self.envelope_issue(p.code, p.message, ic, "ISA", p.element_position, x12_code=p.x12_code)
        if header.delimiters is None:
            ic.fatal = True
            self.ic = None  # nothing after an unusable ISA belongs to it
            return
        self.delims = header.delimiters
        if not header.delimiters.ascii:
            self.envelope_issue("delimiter_invalid", "delimiters outside ASCII: "
                                + ", ".join(repr(c) for c in (header.delimiters.element, header.delimiters.component,
                                                              header.delimiters.segment) if c and not c.isascii()),
                                ic, "ISA", severity=None if not self.tolerant else Severity.WARNING,
                                x12_code="026")
        for i, value in enumerate(el[:16], start=1):
            self._isa_element(ic, i, value)

    def _isa_element(self, ic: Interchange, pos: int, value: str) -> None:
        name = f"ISA{pos:02d}"
        rule = self._isa_rules[name]
        ta1 = rule["ta1"]
        width = ISA_WIDTHS[pos - 1]
        kind = rule["kind"]
        if pos == 16:
            return  # checked by the header parser
        if pos == 11:
            if ic.version < "00402" and value != "U":
                self.envelope_issue("isa_element_invalid", f"ISA11 {value!r} must be 'U' before version 00402",
                                    ic, "ISA", 11, x12_code=ta1)
            return
        if value == "" or (kind != "AN" and not value.strip()):
            self.envelope_issue("isa_element_invalid", f"{name} ({rule['name']}) is empty", ic, "ISA", pos,
                                x12_code=ta1)
            return
        if kind == "TM" and not (len(value) == 4 and valid_time(value)):
            self.envelope_issue("isa_element_invalid", f"{name} {value!r} is not a valid time (HHMM)",
                                ic, "ISA", pos, x12_code=ta1)
            return
        if len(value) > width:
            if kind == "AN" and len(value.rstrip()) <= width:
                self.envelope_issue("isa_not_fixed_width", f"{name} {value!r} is {len(value)} characters; the ISA "
                                    f"requires exactly {width} (space-padded)", ic, "ISA", pos, x12_code=ta1)
                return
            self.envelope_issue("isa_element_invalid", f"{name} {value!r} is longer than {width} characters",
                                ic, "ISA", pos, x12_code=ta1)
            return
        if len(value) < width:
            if kind == "AN" or (kind == "N0" and value.isdigit()):
                self.envelope_issue("isa_not_fixed_width", f"{name} {value!r} is {len(value)} characters; the ISA "
                                    f"requires exactly {width} ({'zero' if kind == 'N0' else 'space'}-padded)",
                                    ic, "ISA", pos, x12_code=ta1)
            else:
                self.envelope_issue("isa_element_invalid", f"{name} {value!r} must be {width} characters",
                                    ic, "ISA", pos, x12_code=ta1)
                return
        if kind == "ID" and "codes" in rule and value not in self._codes[rule["codes"]]:
            self.envelope_issue("isa_element_invalid", f"{name} {value!r} is not a valid {rule['name']}",
                                ic, "ISA", pos, x12_code=ta1)
        elif kind == "DT" and not valid_date(value):
            self.envelope_issue("isa_element_invalid", f"{name} {value!r} is not a valid date (YYMMDD)",
                                ic, "ISA", pos, x12_code=ta1)
        elif kind == "TM" and not (len(value) == 4 and valid_time(value)):
            self.envelope_issue("isa_element_invalid", f"{name} {value!r} is not a valid time (HHMM)",
                                ic, "ISA", pos, x12_code=ta1)
        elif kind == "N0" and not value.isdigit():
            self.envelope_issue("isa_element_invalid", f"{name} {value!r} is not numeric", ic, "ISA", pos,
                                x12_code=ta1)

    def _iea(self, els: list[str]) -> None:
        ic = self.ic
        if ic is None or not ic.enveloped:
            self.envelope_issue("interchange_content_invalid", "IEA without ISA", ic, "IEA")
            return
        self._close_group(missing_trailer=True)
        ic.closed = True
        count = els[1] if len(els) > 1 else ""
        control = els[2] if len(els) > 2 else ""
        ic.declared_group_count = count
        ic.trailer_control_number = control
        if len(els) > 3 and any(els[3:]):
            self.envelope_issue("iea_element_invalid", f"IEA has {len(els) - 1} elements instead of 2", ic, "IEA", 3)
        n = _num(count)
        if n is None or len(count) > 5:
            self.envelope_issue("iea_element_invalid", f"IEA01 {count!r} is not a count (N0 1-5)", ic, "IEA", 1)
        else:
            if n != len(ic.groups):
                self.envelope_issue("iea_count_mismatch", f"IEA01 says {n} functional groups, the interchange "
                                    f"has {len(ic.groups)}", ic, "IEA", 1)
            if len(count) > 1 and count[0] == "0":
                self.envelope_issue("count_leading_zeros", f"IEA01 {count!r} has leading zeros", ic, "IEA", 1)
        if control != ic.control_number:
            if _num(control) is not None and _num(control) == _num(ic.control_number) and control.isdigit():
                self.envelope_issue("iea_control_unpadded", f"IEA02 {control!r} equals ISA13 "
                                    f"{ic.control_number!r} only numerically (ISA13/IEA02 are 9 digits)",
                                    ic, "IEA", 2)
            else:
                self.envelope_issue("iea_control_mismatch", f"IEA02 {control!r} does not match ISA13 "
                                    f"{ic.control_number!r}", ic, "IEA", 2)
        self.ic = None

    def _ta1(self, els: list[str]) -> None:
        ic = self.ic
        assert ic is not None
        get = (lambda i: els[i] if len(els) > i else "")  # noqa: E731
        ack = InterchangeAck(get(1), get(2), get(3), get(4), get(5))
        ic.acks.append(ack)
        problems = []
        if not (len(ack.control_number) == 9 and ack.control_number.isdigit()):
            problems.append((1, f"TA101 {ack.control_number!r} is not a 9-digit control number"))
        if not (len(ack.date) == 6 and valid_date(ack.date)):
            problems.append((2, f"TA102 {ack.date!r} is not a date (YYMMDD)"))
        if not (len(ack.time) == 4 and valid_time(ack.time)):
            problems.append((3, f"TA103 {ack.time!r} is not a time (HHMM)"))
        if ack.status not in self._codes["I17"]:
            problems.append((4, f"TA104 {ack.status!r} is not A, E or R"))
        if ack.note_code not in self._codes["I18"]:
            problems.append((5, f"TA105 {ack.note_code!r} is not an interchange note code"))
        if len(els) > 6 and any(els[6:]):
            problems.append((6, f"TA1 has {len(els) - 1} elements instead of 5"))
        for pos, msg in problems:
            self.envelope_issue("control_segment_invalid", msg, ic, "TA1", pos)

    def _service(self, els: list[str]) -> None:
        ic = self.ic
        if not self.before_groups:
            self.envelope_issue("interchange_content_invalid", f"{els[0]} after a functional group", ic, els[0])
            return
        if els[0] == "ISB" and (len(els) < 2 or els[1] not in self._codes["I34"]):
            self.envelope_issue("control_segment_invalid", "ISB01 is not a grade of service code", ic, "ISB", 1)
        if els[0] == "ISE":
            date, time, code = [*els, "", "", ""][1:4]
            if not (len(date) == 6 and valid_date(date)) or not (len(time) == 4 and valid_time(time)):
                self.envelope_issue("control_segment_invalid", "ISE01/ISE02 are not a date and time", ic, "ISE", 1)
            elif code not in self._codes["I37"]:
                self.envelope_issue("control_segment_invalid", f"ISE03 {code!r} is not a time code", ic, "ISE", 3)

    # ------------------------------------------------------------------------------------------------ GS / GE
    def _ensure_interchange(self) -> Interchange:
        if self.ic is None:
            ic = Interchange(enveloped=False, first_segment=self.fs, delimiters=self.delims)
            self.analysis.interchanges.append(ic)
            self.ic = ic
            self.group_controls = set()
            self.envelope_issue("envelope_missing", "data sent without an ISA interchange header: it cannot be "
                                "acknowledged", ic, None)
        return self.ic

    def _gs(self, els: list[str]) -> None:
        self._close_group(missing_trailer=True)
        ic = self._ensure_interchange()
        self.before_groups = False
        get = (lambda i: els[i] if len(els) > i else "")  # noqa: E731
        g = Group(get(1), get(2).strip(), get(3).strip(), get(4), get(5), get(6), get(7), get(8).strip())
        ic.groups.append(g)
        self.group = g
        self.set_controls = set()
        owner = g
        if len(els) != 9:
            self.envelope_issue("gs_element_invalid", f"GS has {len(els) - 1} elements instead of 8", owner, "GS",
                                min(len(els), 9))
        if g.functional_id not in self._functional_ids:
            self.envelope_issue("gs_element_invalid", f"GS01 {g.functional_id!r} is not a functional identifier "
                                "code", owner, "GS", 1)
        for pos in (2, 3):
            raw = get(pos)
            if not 2 <= len(raw) <= 15:
                self.envelope_issue("gs_element_invalid", f"GS{pos:02d} {raw!r} must be 2 to 15 characters",
                                    owner, "GS", pos)
            elif raw != raw.strip():
                self.envelope_issue("id_padded", f"GS{pos:02d} {raw!r} has leading or trailing spaces",
                                    owner, "GS", pos)
        version = g.version
        date = g.date
        digits = 8 if version[:6] >= "004000" or not version[:6].isdigit() else 6
        if not (len(date) in ((6, 8) if not version[:6].isdigit() else (digits,)) and valid_date(date)):
            fmt = "CCYYMMDD" if digits == 8 else "YYMMDD"
            self.envelope_issue("gs_element_invalid", f"GS04 {date!r} is not a date ({fmt})", owner, "GS", 4)
        if not valid_time(g.time):
            self.envelope_issue("gs_element_invalid", f"GS05 {g.time!r} is not a time (HHMM[SS[dd]])", owner,
                                "GS", 5)
        control = g.control_number
        if not (control.isascii() and control.isdigit() and 1 <= len(control) <= 9):
            self.envelope_issue("gs_control_invalid", f"GS06 {control!r} is not a group control number "
                                "(1-9 digits)", owner, "GS", 6)
        elif control in self.group_controls:
            self.envelope_issue("gs_control_duplicate", f"GS06 {control!r} is used by an earlier group of the "
                                "interchange", owner, "GS", 6)
        self.group_controls.add(control)
        if g.agency not in self._agencies:
            self.envelope_issue("gs_element_invalid", f"GS07 {g.agency!r} is not a responsible agency code "
                                "(X or T)", owner, "GS", 7)
        if not version or len(get(8)) > 12:
            self.envelope_issue("gs_element_invalid", f"GS08 {get(8)!r} is not a version (1-12 characters)",
                                owner, "GS", 8)
        if not self.specs.supports_version(version or "?"):
            severity = Severity.WARNING if self.rules.unsupported_version == "warning" else Severity.ERROR
            self.envelope_issue("group_version_unsupported", f"no specification for version {version!r}: the "
                                "transaction sets of this group are not validated", owner, "GS", 8,
                                severity=severity)

    def _ge(self, els: list[str]) -> None:
        g = self.group
        if g is None:
            self.envelope_issue("interchange_content_invalid", "GE without GS", self.ic, "GE")
            return
        self._close_set(missing_trailer=True)
        count = els[1] if len(els) > 1 else ""
        control = els[2] if len(els) > 2 else ""
        g.declared_count = count
        g.trailer_control_number = control
        n = _num(count)
        if n is None or len(count) > 6:
            self.envelope_issue("ge_count_mismatch", f"GE01 {count!r} is not a count (N0 1-6)", g, "GE", 1)
        else:
            if n != len(g.transactions):
                self.envelope_issue("ge_count_mismatch", f"GE01 says {n} transaction sets, the group has "
                                    f"{len(g.transactions)}", g, "GE", 1)
            if len(count) > 1 and count[0] == "0":
                self.envelope_issue("count_leading_zeros", f"GE01 {count!r} has leading zeros", g, "GE", 1)
        if control != g.control_number:
            if not (control.isascii() and control.isdigit() and len(control) <= 9):
                self.envelope_issue("gs_control_invalid", f"GE02 {control[:30]!r} is not a group control number "
                                    "(1-9 digits)", g, "GE", 2)
            elif _num(control) == _num(g.control_number):
                self.envelope_issue("ge_control_unpadded", f"GE02 {control!r} equals GS06 {g.control_number!r} "
                                    "only numerically", g, "GE", 2)
            else:
                self.envelope_issue("ge_control_mismatch", f"GE02 {control!r} does not match GS06 "
                                    f"{g.control_number!r}", g, "GE", 2)
        if len(els) > 3 and any(els[3:]):
            self.envelope_issue("gs_element_invalid", f"GE has {len(els) - 1} elements instead of 2", g, "GE", 3)
        self.group = None

    # ------------------------------------------------------------------------------------------------ ST / SE
    def _st(self, els: list[str]) -> None:
        self._close_set(missing_trailer=True)
        if self.group is None:
            ic = self._ensure_interchange()
            if ic.enveloped:
                self.envelope_issue("interchange_content_invalid", "transaction set outside a functional group "
                                    "(GS missing)", ic, "ST")
            set_id = els[1] if len(els) > 1 else ""
            g = Group(self.specs.functional_groups.get(set_id, ""), "", "", "", "", "", "", "", enveloped=False)
            ic.groups.append(g)
            self.group = g
            self.set_controls = set()
        g = self.group
        get = (lambda i: els[i] if len(els) > i else "")  # noqa: E731
        # interned / shared strings: a file may hold hundreds of thousands of sets (see bench/x12_read.py)
        tx = Transaction(sys.intern(get(1)), get(2), first_segment=self.fs)
        tx.implementation_reference = get(3) or None
        tx.segment_count = 1
        g.transactions.append(tx)
        self.tx = tx
        self.pos = 1
        self.validator = None
        set_id, control = tx.set_id, tx.control_number
        if not (len(set_id) == 3 and set_id.isdigit()):
            self.set_issue("st_set_id_invalid", f"ST01 {set_id!r} is not a transaction set identifier", 1, "ST",
                           element=1, element_ref="143", bad_value=set_id)
        if not 4 <= len(control) <= 9:
            self.set_issue("st_control_invalid", f"ST02 {control!r} must be 4 to 9 characters", 1, "ST",
                           element=2, element_ref="329", bad_value=control)
        elif control in self.set_controls:
            self.set_issue("st_control_duplicate", f"ST02 {control!r} is used by an earlier set of the group", 1,
                           "ST", element=2, element_ref="329", bad_value=control)
        self.set_controls.add(control)
        version = g.version if g.enveloped else self.default_version
        base = self.specs.base_version(version) if version else None
        if len(els) > 3 and els[3] and (base is None or base < "004020") and version[:6] < "004020":
            self.set_issue("element_too_many", f"ST03 {els[3]!r} exists only from version 004020 on", 1, "ST",
                           element=3, element_ref="1705", bad_value=els[3])
        if len(els) > 4 and any(els[4:]):
            self.set_issue("element_too_many", f"ST has {len(els) - 1} elements", 1, "ST", element=4)
        if base is None:
            return  # group version unsupported (reported on the GS)
        spec = self.specs.resolve(set_id, version)
        if spec is None:
            self.set_issue("transaction_set_unsupported", f"no specification for transaction set {set_id!r} in "
                           f"version {base}: only its envelope was checked", 1, "ST", element=1)
            return
        tx.spec = sys.intern(spec.key)
        if g.enveloped and g.functional_id and spec.functional_group != g.functional_id:
            self.set_issue("st_group_mismatch", f"transaction set {set_id} belongs in a {spec.functional_group} "
                           f"group, not in {g.functional_id!r}", 1, "ST", element=1)
        rules = self._merged.get(version)
        if rules is None:
            rules = self._merged[version] = self.specs.variant_rules(version).merged(self.rules)
        set_rules = rules.for_set(set_id)
        d = self.delims
        memo = (spec.key, id(set_rules), d.element, d.component, d.repetition)
        compiled_ = self._compiled.get(memo)
        if compiled_ is None:  # the process-wide caches (gateway.edi.x12.compiled), looked up once per analysis
            compiled_ = self._compiled[memo] = (
                compiled.checkers_for(spec.key, set_rules, self.tolerant),
                compiled.clean_for(spec.key, set_rules, self.tolerant, d.element, d.component, d.repetition),
            )
        checkers, clean = compiled_
        self.validator = TransactionValidator(spec, self.set_issue, rules=set_rules, delimiters=d,
                                              checkers=checkers, tolerant=self.tolerant, clean=clean)

    def _se(self, els: list[str], text: str) -> None:
        tx = self.tx
        if tx is None:
            self.envelope_issue("interchange_content_invalid", "SE without ST", self.group or self.ic, "SE")
            return
        self.pos += 1
        tx.segment_count = self.pos
        count = els[1] if len(els) > 1 else ""
        control = els[2] if len(els) > 2 else ""
        tx.declared_count = sys.intern(count)
        tx.trailer_control_number = tx.control_number if control == tx.control_number else control
        if self.validator is not None:
            self.validator.segment(els, text, self.pos)
        n = _num(count)
        if n is None or len(count) > 10:
            self.set_issue("se_count_mismatch", f"SE01 {count!r} is not a segment count", self.pos, "SE",
                           element=1, element_ref="96", bad_value=count)
        else:
            if n != self.pos:
                self.set_issue("se_count_mismatch", f"SE01 says {n} segments, the transaction set has {self.pos}",
                               self.pos, "SE", element=1, element_ref="96", bad_value=count)
            if len(count) > 1 and count[0] == "0":
                self.set_issue("count_leading_zeros", f"SE01 {count!r} has leading zeros", self.pos, "SE",
                               element=1)
        if control != tx.control_number:
            self.set_issue("se_control_mismatch", f"SE02 {control!r} does not match ST02 {tx.control_number!r}",
                           self.pos, "SE", element=2, element_ref="329", bad_value=control)
        if len(els) > 3 and any(els[3:]):
            self.set_issue("element_too_many", f"SE has {len(els) - 1} elements", self.pos, "SE", element=3)
        self._finish_set(complete=True)

    # ------------------------------------------------------------------------------------------------ closing
    def _finish_set(self, complete: bool) -> None:
        if self.validator is not None:
            self.validator.finish(complete)
        self.validator = None
        self.tx = None

    def _close_set(self, missing_trailer: bool) -> None:
        tx = self.tx
        if tx is None:
            return
        tx.segment_count = self.pos
        if missing_trailer:
            self.set_issue("se_missing", f"transaction set {tx.set_id} {tx.control_number} has no SE trailer",
                           self.pos, tx.set_id and "SE")
        self._finish_set(complete=False)

    def _close_group(self, missing_trailer: bool) -> None:
        self._close_set(missing_trailer)
        g = self.group
        if g is None:
            return
        if missing_trailer and g.enveloped:
            self.envelope_issue("ge_missing", f"functional group {g.control_number} has no GE trailer", g, "GE")
        self.group = None

    def _close_interchange(self, eof: bool) -> None:
        self._close_group(missing_trailer=True)
        ic = self.ic
        if ic is None:
            return
        if ic.enveloped and not ic.closed:
            ic.fatal = True
            where = "the end of the file" if eof else "the next ISA"
            self.envelope_issue("iea_missing", f"interchange {ic.control_number} has no IEA trailer before {where}",
                                ic, "IEA")
        self.ic = None

    def _close_all(self) -> None:
        self._close_interchange(eof=True)


def fatal_codes() -> frozenset[str]:
    """Interchange issue codes after which no functional acknowledgement is sent (TA1 R only)."""
    return _FATAL_INTERCHANGE
