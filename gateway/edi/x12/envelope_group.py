"""GS/GE steps of the envelope analysis (functions of :class:`~.envelope_state.EnvelopeState`): a functional
group's header checks (functional id, sender, receiver, date, time, control number, agency, version), its trailer
(count, control number) and its closing."""

from __future__ import annotations

from gateway.edi.x12.datatypes import valid_date, valid_time
from gateway.edi.x12.envelope_set import close_set
from gateway.edi.x12.envelope_state import EnvelopeState
from gateway.edi.x12.envelope_trailer import GE, check_trailer
from gateway.edi.x12.issues import Severity
from gateway.edi.x12.model import Group


def start_group(st: EnvelopeState, els: list[str]) -> None:
    close_group(st, missing_trailer=True)
    ic = st.ensure_interchange()
    st.before_groups = False
    get = (lambda i: els[i] if len(els) > i else "")  # noqa: E731
    g = Group(get(1), get(2).strip(), get(3).strip(), get(4), get(5), get(6), get(7), get(8).strip())
    ic.groups.append(g)
    st.group = g
    st.new_group()
    owner = g
    if len(els) != 9:
        st.envelope_issue("gs_element_invalid", f"GS has {len(els) - 1} elements instead of 8", owner, "GS",
                          min(len(els), 9))
    if g.functional_id not in st.functional_ids:
        st.envelope_issue("gs_element_invalid", f"GS01 {g.functional_id!r} is not a functional identifier "
                          "code", owner, "GS", 1)
    for pos in (2, 3):
        raw = get(pos)
        if not 2 <= len(raw) <= 15:
            st.envelope_issue("gs_element_invalid", f"GS{pos:02d} {raw!r} must be 2 to 15 characters",
                              owner, "GS", pos)
        elif raw != raw.strip():
            st.envelope_issue("id_padded", f"GS{pos:02d} {raw!r} has leading or trailing spaces",
                              owner, "GS", pos)
    version = g.version
    date = g.date
    digits = 8 if version[:6] >= "004000" or not version[:6].isdigit() else 6
    if not (len(date) in ((6, 8) if not version[:6].isdigit() else (digits,)) and valid_date(date)):
        fmt = "CCYYMMDD" if digits == 8 else "YYMMDD"
        st.envelope_issue("gs_element_invalid", f"GS04 {date!r} is not a date ({fmt})", owner, "GS", 4)
    if not valid_time(g.time):
        st.envelope_issue("gs_element_invalid", f"GS05 {g.time!r} is not a time (HHMM[SS[dd]])", owner,
                          "GS", 5)
    control = g.control_number
    if not (control.isascii() and control.isdigit() and 1 <= len(control) <= 9):
        st.envelope_issue("gs_control_invalid", f"GS06 {control!r} is not a group control number "
                          "(1-9 digits)", owner, "GS", 6)
    elif control in st.group_controls:
        st.envelope_issue("gs_control_duplicate", f"GS06 {control!r} is used by an earlier group of the "
                          "interchange", owner, "GS", 6)
    st.group_controls.add(control)
    if g.agency not in st.agencies:
        st.envelope_issue("gs_element_invalid", f"GS07 {g.agency!r} is not a responsible agency code "
                          "(X or T)", owner, "GS", 7)
    if not version or len(get(8)) > 12:
        st.envelope_issue("gs_element_invalid", f"GS08 {get(8)!r} is not a version (1-12 characters)",
                          owner, "GS", 8)
    if not st.specs.supports_version(version or "?"):
        severity = Severity.WARNING if st.rules.unsupported_version == "warning" else Severity.ERROR
        st.envelope_issue("group_version_unsupported", f"no specification for version {version!r}: the "
                          "transaction sets of this group are not validated", owner, "GS", 8,
                          severity=severity)


def end_group(st: EnvelopeState, els: list[str]) -> None:
    g = st.group
    if g is None:
        st.envelope_issue("interchange_content_invalid", "GE without GS", st.ic, "GE")
        return
    close_set(st, missing_trailer=True)
    count = els[1] if len(els) > 1 else ""
    control = els[2] if len(els) > 2 else ""
    g.declared_count = count
    g.trailer_control_number = control
    check_trailer(st, GE, g, count, control, held=len(g.transactions), expected_control=g.control_number)
    if len(els) > 3 and any(els[3:]):
        st.envelope_issue("gs_element_invalid", f"GE has {len(els) - 1} elements instead of 2", g, "GE", 3)
    st.group = None


def close_group(st: EnvelopeState, missing_trailer: bool) -> None:
    close_set(st, missing_trailer)
    g = st.group
    if g is None:
        return
    if missing_trailer and g.enveloped:
        st.envelope_issue("ge_missing", f"functional group {g.control_number} has no GE trailer", g, "GE")
    st.group = None
