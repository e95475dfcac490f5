"""ISA/IEA steps of the envelope analysis (functions of :class:`~.envelope_state.EnvelopeState`): the
interchange header (each fixed-width ISA element), the trailer, TA1 acknowledgements and ISB/ISE/ISX service
segments inside the interchange, and its closing."""

from __future__ import annotations

from gateway.edi.x12.datatypes import valid_date, valid_time
from gateway.edi.x12.delimiters import ISA_WIDTHS, IsaHeader
from gateway.edi.x12.envelope_group import close_group
from gateway.edi.x12.envelope_state import EnvelopeState
from gateway.edi.x12.envelope_trailer import IEA, check_trailer
from gateway.edi.x12.issues import Severity
from gateway.edi.x12.model import Interchange, InterchangeAck


def start_interchange(st: EnvelopeState, header: IsaHeader) -> None:
    close_interchange(st, eof=False)
    st.bare = False
    el = header.elements
    ic = Interchange(first_segment=st.fs)
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
    st.analysis.interchanges.append(ic)
    st.ic = ic
    st.group_controls = set()
    st.before_groups = True
    for p in header.problems:
        st.envelope_issue(p.code, p.message, ic, "ISA", p.element_position, x12_code=p.x12_code)
    if header.delimiters is None:
        ic.fatal = True
        st.ic = None  # nothing after an unusable ISA belongs to it
        return
    st.delims = header.delimiters
    if not header.delimiters.ascii:
        st.envelope_issue("delimiter_invalid", "delimiters outside ASCII: "
                          + ", ".join(repr(c) for c in (header.delimiters.element, header.delimiters.component,
                                                        header.delimiters.segment) if c and not c.isascii()),
                          ic, "ISA", severity=None if not st.tolerant else Severity.WARNING,
                          x12_code="026")
    passed = _passed_for(st)
    for i, value in enumerate(el[:16], start=1):
        if (i, value) in passed:
            continue
        before = (len(st.analysis.issues), st.analysis.suppressed, st.analysis.error_count)
        check_isa_element(st, ic, i, value)
        if i not in _PER_FILE and before == (len(st.analysis.issues), st.analysis.suppressed,
                                             st.analysis.error_count):
            if len(passed) >= MAX_PASSED:
                passed.clear()
            passed.add((i, value))


# ISA elements (position, value) that passed check_isa_element without an issue, per rule set: a partner's ISA
# repeats the same qualifiers, ids and codes in every file, and the check of one is a function of its position,
# its value and the rules (ISA11, whose check reads ISA12, is never taken from here). The date, time and control
# number change with every file: checked each time, not remembered.
_PER_FILE = frozenset({9, 10, 11, 13})
MAX_PASSED = 4096
_passed: dict[int, tuple[object, object, set[tuple[int, str]]]] = {}


def _passed_for(st: EnvelopeState) -> set[tuple[int, str]]:
    got = _passed.get(id(st.isa_rules))
    if got is None or got[0] is not st.isa_rules or got[1] is not st.codes:
        if len(_passed) >= 16:
            _passed.clear()
        got = _passed[id(st.isa_rules)] = (st.isa_rules, st.codes, set())
    return got[2]


def check_isa_element(st: EnvelopeState, ic: Interchange, pos: int, value: str) -> None:
    name = f"ISA{pos:02d}"
    rule = st.isa_rules[name]
    ta1 = rule["ta1"]
    width = ISA_WIDTHS[pos - 1]
    kind = rule["kind"]
    if pos == 16:
        return  # checked by the header parser
    if pos == 11:
        if ic.version < "00402" and value != "U":
            st.envelope_issue("isa_element_invalid", f"ISA11 {value!r} must be 'U' before version 00402",
                              ic, "ISA", 11, x12_code=ta1)
        return
    if value == "" or (kind != "AN" and not value.strip()):
        st.envelope_issue("isa_element_invalid", f"{name} ({rule['name']}) is empty", ic, "ISA", pos,
                          x12_code=ta1)
        return
    if kind == "TM" and not (len(value) == 4 and valid_time(value)):
        st.envelope_issue("isa_element_invalid", f"{name} {value!r} is not a valid time (HHMM)",
                          ic, "ISA", pos, x12_code=ta1)
        return
    if len(value) > width:
        if kind == "AN" and len(value.rstrip()) <= width:
            st.envelope_issue("isa_not_fixed_width", f"{name} {value!r} is {len(value)} characters; the ISA "
                              f"requires exactly {width} (space-padded)", ic, "ISA", pos, x12_code=ta1)
            return
        st.envelope_issue("isa_element_invalid", f"{name} {value!r} is longer than {width} characters",
                          ic, "ISA", pos, x12_code=ta1)
        return
    if len(value) < width:
        if kind == "AN" or (kind == "N0" and value.isdigit()):
            st.envelope_issue("isa_not_fixed_width", f"{name} {value!r} is {len(value)} characters; the ISA "
                              f"requires exactly {width} ({'zero' if kind == 'N0' else 'space'}-padded)",
                              ic, "ISA", pos, x12_code=ta1)
        else:
            st.envelope_issue("isa_element_invalid", f"{name} {value!r} must be {width} characters",
                              ic, "ISA", pos, x12_code=ta1)
            return
    if kind == "ID" and "codes" in rule and value not in st.codes[rule["codes"]]:
        st.envelope_issue("isa_element_invalid", f"{name} {value!r} is not a valid {rule['name']}",
                          ic, "ISA", pos, x12_code=ta1)
    elif kind == "DT" and not valid_date(value):
        st.envelope_issue("isa_element_invalid", f"{name} {value!r} is not a valid date (YYMMDD)",
                          ic, "ISA", pos, x12_code=ta1)
    elif kind == "TM" and not (len(value) == 4 and valid_time(value)):
        st.envelope_issue("isa_element_invalid", f"{name} {value!r} is not a valid time (HHMM)",
                          ic, "ISA", pos, x12_code=ta1)
    elif kind == "N0" and not value.isdigit():
        st.envelope_issue("isa_element_invalid", f"{name} {value!r} is not numeric", ic, "ISA", pos,
                          x12_code=ta1)


def end_interchange(st: EnvelopeState, els: list[str]) -> None:
    ic = st.ic
    if ic is None or not ic.enveloped:
        st.envelope_issue("interchange_content_invalid", "IEA without ISA", ic, "IEA")
        return
    close_group(st, missing_trailer=True)
    ic.closed = True
    count = els[1] if len(els) > 1 else ""
    control = els[2] if len(els) > 2 else ""
    ic.declared_group_count = count
    ic.trailer_control_number = control
    if len(els) > 3 and any(els[3:]):
        st.envelope_issue("iea_element_invalid", f"IEA has {len(els) - 1} elements instead of 2", ic, "IEA", 3)
    check_trailer(st, IEA, ic, count, control, held=len(ic.groups), expected_control=ic.control_number)
    st.ic = None


def interchange_ack(st: EnvelopeState, els: list[str]) -> None:
    ic = st.ic
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
    if ack.status not in st.codes["I17"]:
        problems.append((4, f"TA104 {ack.status!r} is not A, E or R"))
    if ack.note_code not in st.codes["I18"]:
        problems.append((5, f"TA105 {ack.note_code!r} is not an interchange note code"))
    if len(els) > 6 and any(els[6:]):
        problems.append((6, f"TA1 has {len(els) - 1} elements instead of 5"))
    for pos, msg in problems:
        st.envelope_issue("control_segment_invalid", msg, ic, "TA1", pos)


def service_segment(st: EnvelopeState, els: list[str]) -> None:
    ic = st.ic
    if not st.before_groups:
        st.envelope_issue("interchange_content_invalid", f"{els[0]} after a functional group", ic, els[0])
        return
    if els[0] == "ISB" and (len(els) < 2 or els[1] not in st.codes["I34"]):
        st.envelope_issue("control_segment_invalid", "ISB01 is not a grade of service code", ic, "ISB", 1)
    if els[0] == "ISE":
        date, time, code = [*els, "", "", ""][1:4]
        if not (len(date) == 6 and valid_date(date)) or not (len(time) == 4 and valid_time(time)):
            st.envelope_issue("control_segment_invalid", "ISE01/ISE02 are not a date and time", ic, "ISE", 1)
        elif code not in st.codes["I37"]:
            st.envelope_issue("control_segment_invalid", f"ISE03 {code!r} is not a time code", ic, "ISE", 3)


def close_interchange(st: EnvelopeState, eof: bool) -> None:
    close_group(st, missing_trailer=True)
    ic = st.ic
    if ic is None:
        return
    if ic.enveloped and not ic.closed:
        ic.fatal = True
        where = "the end of the file" if eof else "the next ISA"
        st.envelope_issue("iea_missing", f"interchange {ic.control_number} has no IEA trailer before {where}",
                          ic, "IEA")
    st.ic = None
