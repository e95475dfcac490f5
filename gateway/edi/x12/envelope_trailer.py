"""The trailer check GE and IEA share (functions of :class:`~.envelope_state.EnvelopeState`): the count the
trailer declares against what its envelope holds, and the trailer's control number against the header's.
:data:`GE` and :data:`IEA` say what differs between the two (codes, wording, widths)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.edi.x12.envelope_state import EnvelopeState, number


@dataclass(frozen=True, slots=True)
class Trailer:
    segment: str  # GE, IEA: issue codes are <segment lowercased>_count_mismatch, _control_unpadded, _control_mismatch
    header: str  # the header element the control number repeats: GS06, ISA13
    contents: str  # what the count counts: "transaction sets", "functional groups"
    envelope: str  # "group", "interchange"
    count_digits: int  # the count's width (N0 1-n)
    count_invalid: str  # the code of a count that is not one
    control_invalid: str | None  # the code of a control number that is not 1-9 digits; None: such a one mismatches
    unpadded_note: str = ""  # after "only numerically"


GE = Trailer("GE", "GS06", "transaction sets", "group", 6, "ge_count_mismatch", "gs_control_invalid")
IEA = Trailer("IEA", "ISA13", "functional groups", "interchange", 5, "iea_element_invalid", None,
              " (ISA13/IEA02 are 9 digits)")


def check_trailer(st: EnvelopeState, rule: Trailer, owner: Any, count: str, control: str, *, held: int,
                  expected_control: str) -> None:
    """Issues for a trailer declaring ``count`` (its envelope holds ``held``) and ``control`` (the header says
    ``expected_control``), in this order: the count, its leading zeros, the control number."""
    seg, prefix = rule.segment, rule.segment.lower()
    n = number(count)
    if n is None or len(count) > rule.count_digits:
        st.envelope_issue(rule.count_invalid, f"{seg}01 {count!r} is not a count (N0 1-{rule.count_digits})",
                          owner, seg, 1)
    else:
        if n != held:
            st.envelope_issue(f"{prefix}_count_mismatch", f"{seg}01 says {n} {rule.contents}, the {rule.envelope} "
                              f"has {held}", owner, seg, 1)
        if len(count) > 1 and count[0] == "0":
            st.envelope_issue("count_leading_zeros", f"{seg}01 {count!r} has leading zeros", owner, seg, 1)
    if control == expected_control:
        return
    if rule.control_invalid and not (control.isascii() and control.isdigit() and len(control) <= 9):
        st.envelope_issue(rule.control_invalid, f"{seg}02 {control[:30]!r} is not a {rule.envelope} control "
                          "number (1-9 digits)", owner, seg, 2)
    elif control.isdigit() and number(control) is not None and number(control) == number(expected_control):
        st.envelope_issue(f"{prefix}_control_unpadded", f"{seg}02 {control!r} equals {rule.header} "
                          f"{expected_control!r} only numerically{rule.unpadded_note}", owner, seg, 2)
    else:
        st.envelope_issue(f"{prefix}_control_mismatch", f"{seg}02 {control!r} does not match {rule.header} "
                          f"{expected_control!r}", owner, seg, 2)
