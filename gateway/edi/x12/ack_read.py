"""Reading a partner's acknowledgements: 997, 999 and TA1 turned into per-interchange, per-group and per-set
outcomes, with the AK3/AK4 (IK3/IK4/CTX) detail as readable text.

::

    doc = read_acknowledgements(data)          # bytes, str or a binary file object
    for ic in doc.interchanges:
        ic.ta1s                                 # [Ta1Outcome(control_number="000000905", status="R", ...)]
        for g in ic.groups:                     # one per AK1 (997) or AK1 (999)
            g.functional_id, g.control_number   # AK101 / AK102: the group of ours being answered
            for s in g.sets:                    # one per AK2 / IK2... AK5 / IK5
                s.outcome                       # "accepted" | "accepted_with_errors" | "rejected"
                s.lines()                       # ["segment W06 at position 2, element 02 (ref 324): ..."]

Pure: no store, no clock. The store matcher (:mod:`gateway.flows.reconcile`) joins these outcomes to what we sent.
Control numbers are kept as sent; :func:`control_key` compares them with leading zeros and padding ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.edi.x12.reader import Source, X12Reader
from gateway.edi.x12.segment import Segment

#: AK501 / IK501 / AK901 (DE 717 / 715)
ACK_CODES = {
    "A": "accepted",
    "E": "accepted, but errors were noted",
    "M": "rejected, message authentication code (MAC) failed",
    "P": "partially accepted, at least one transaction set was rejected",
    "R": "rejected",
    "W": "rejected, assurance failed validity tests",
    "X": "rejected, content after decryption could not be analyzed",
}
#: AK304 (DE 720) and IK304 (DE 620)
SEGMENT_CODES = {
    "1": "unrecognized segment id",
    "2": "unexpected segment",
    "3": "mandatory segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "implementation 'not used' segment present",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent 'not used' segment present",
}
#: AK403 (DE 723) and IK403 (DE 621)
ELEMENT_CODES = {
    "1": "mandatory data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value not used in implementation",
    "I9": "implementation dependent data element missing",
    "I10": "implementation 'not used' data element present",
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": "implementation dependent 'not used' data element present",
}
#: AK502..AK506 (DE 718) and IK502..IK506 (DE 618)
SET_CODES = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "8": "authentication key name unknown",
    "9": "encryption key name unknown",
    "10": "requested service not available",
    "11": "unknown security recipient",
    "12": "incorrect message length",
    "13": "message authentication code failed",
    "15": "unknown security originator",
    "16": "syntax error in decrypted text",
    "17": "security not supported",
    "18": "transaction set not in functional group",
    "19": "invalid transaction set implementation convention reference",
    "23": "transaction set control number not unique within the functional group",
    "I5": "implementation: one or more segments in error",
    "I6": "implementation convention not supported",
}
#: AK905..AK909 (DE 716)
GROUP_CODES = {
    "1": "functional group not supported",
    "2": "functional group version not supported",
    "3": "functional group trailer missing",
    "4": "group control number in the header and trailer do not agree",
    "5": "number of included transaction sets does not match actual count",
    "6": "group control number violates syntax",
    "10": "authentication key name unknown",
    "11": "encryption key name unknown",
    "12": "requested service not available",
    "13": "unknown security recipient",
    "14": "unknown security originator",
    "15": "syntax error in decrypted text",
    "16": "security not supported",
    "17": "incorrect message length",
    "18": "message authentication code failed",
    "19": "functional group control number not unique within interchange",
    "23": "S3E security end segment missing for S3S",
    "24": "S3S security start segment missing for S3E",
    "25": "S4E security end segment missing for S4S",
    "26": "S4S security start segment missing for S4E",
}
#: TA105 (I18)
TA1_NOTES = {
    "000": "no error",
    "001": "the interchange control number in the header and trailer do not match",
    "002": "this standard as noted in the control standards identifier is not supported",
    "003": "this version of the controls is not supported",
    "004": "the segment terminator is invalid",
    "005": "invalid interchange id qualifier for sender",
    "006": "invalid interchange sender id",
    "007": "invalid interchange id qualifier for receiver",
    "008": "invalid interchange receiver id",
    "009": "unknown interchange receiver id",
    "010": "invalid authorization information qualifier value",
    "011": "invalid authorization information value",
    "012": "invalid security information qualifier value",
    "013": "invalid security information value",
    "014": "invalid interchange date value",
    "015": "invalid interchange time value",
    "016": "invalid interchange standards identifier value",
    "017": "invalid interchange version id value",
    "018": "invalid interchange control number value",
    "019": "invalid acknowledgment requested value",
    "020": "invalid test indicator value",
    "021": "invalid number of included groups value",
    "022": "invalid control structure",
    "023": "improper (premature) end-of-file (transmission)",
    "024": "invalid interchange content (e.g. invalid GS segment)",
    "025": "duplicate interchange control number",
    "026": "invalid data element separator",
    "027": "invalid component element separator",
    "028": "invalid delivery date in deferred delivery request",
    "029": "invalid delivery time in deferred delivery request",
    "030": "invalid delivery time code in deferred delivery request",
    "031": "invalid grade of service code",
}

OUTCOME = {"A": "accepted", "E": "accepted_with_errors", "P": "partially_accepted"}

#: (set id, version, segment id, element position) -> the canonical field written there, when known
FieldOf = Callable[[str, str, str, int], str | None]


def control_key(value: str | None) -> int | None:
    """A control number compared as a number: leading zeros and padding ignored; None when not numeric."""
    v = (value or "").strip()
    return int(v) if v.isdigit() else None


def control_variants(value: str | None, widths: range = range(1, 10)) -> list[str]:
    """Every zero-padded spelling of a control number (``"12"`` -> ``"12", "012", ... "000000012"``), so a store
    lookup can use an index instead of comparing numerically."""
    n = control_key(value)
    if n is None:
        return [(value or "").strip()]
    digits = str(n)
    return [digits.zfill(w) for w in widths if w >= len(digits)]


def _meaning(table: dict[str, str], code: str) -> str:
    return table.get(code.strip(), f"code {code.strip()!r} (not a standard code)")


@dataclass(slots=True)
class ElementNote:
    """AK4 / IK4: one element in error."""

    position: int | None  # AK401-1 / IK401-1
    component: int | None  # AK401-2
    repeat: int | None  # IK401-3
    reference: str  # AK402: the data element reference number
    code: str  # AK403
    value: str  # AK404: a copy of the bad value, as the partner quoted it
    context: list[str] = field(default_factory=list)  # CTX after IK4
    canonical_field: str | None = None

    @property
    def meaning(self) -> str:
        return _meaning(ELEMENT_CODES, self.code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position, "component": self.component, "repeat": self.repeat,
            "reference": self.reference or None, "code": self.code, "meaning": self.meaning,
            "value": self.value or None, "context": self.context or None, "canonical_field": self.canonical_field,
        }


@dataclass(slots=True)
class SegmentNote:
    """AK3 / IK3: one segment in error, with its element notes."""

    segment_id: str
    position: int | None  # AK302: ordinal in the transaction set, ST = 1
    loop: str  # AK303
    code: str  # AK304 (may be empty when only element errors follow)
    elements: list[ElementNote] = field(default_factory=list)
    context: list[str] = field(default_factory=list)  # CTX after IK3

    @property
    def meaning(self) -> str:
        return _meaning(SEGMENT_CODES, self.code) if self.code else "segment has data element errors"

    def lines(self) -> list[str]:
        where = f"segment {self.segment_id}" + (f" at position {self.position}" if self.position else "")
        where += f" (loop {self.loop})" if self.loop else ""
        out = []
        if (self.code and self.code != "8") or not self.elements:  # 8: "element errors", listed below
            out.append(f"{where}: {self.meaning} (code {self.code or '8'})")
        for e in self.elements:
            pos = f"{self.segment_id}{e.position:02d}" if e.position else self.segment_id
            if e.component:
                pos += f"-{e.component}"
            text = f"{where}, element {pos}" + (f" (ref {e.reference})" if e.reference else "")
            text += f": {e.meaning} (code {e.code})"
            if e.value:
                text += f", value {e.value!r}"
            if e.canonical_field:
                text += f"; canonical field {e.canonical_field}"
            out.append(text)
        out.extend(f"{where}: context {c}" for c in self.context)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment_id, "position": self.position, "loop": self.loop or None,
            "code": self.code or None, "meaning": self.meaning, "context": self.context or None,
            "elements": [e.to_dict() for e in self.elements],
        }


@dataclass(slots=True)
class SetOutcome:
    """AK2..AK5 / IK2..IK5: the partner's verdict on one transaction set of ours."""

    set_id: str  # AK201
    control_number: str  # AK202
    code: str = ""  # AK501 / IK501; empty when the AK5 is missing
    reasons: list[str] = field(default_factory=list)  # AK502..AK506 codes
    segments: list[SegmentNote] = field(default_factory=list)
    context: list[str] = field(default_factory=list)  # CTX right after AK2 (business unit identifier)

    @property
    def outcome(self) -> str:
        return OUTCOME.get(self.code, "accepted" if self.code == "A" else "rejected")

    def lines(self) -> list[str]:
        head = f"{self.set_id} {self.control_number}: {_meaning(ACK_CODES, self.code) if self.code else 'no AK5'}"
        out = [head]
        out.extend(f"  {_meaning(SET_CODES, r)} (code {r})" for r in self.reasons)
        out.extend(f"  {c}" for c in self.context)
        for s in self.segments:
            out.extend(f"  {line}" for line in s.lines())
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "set_id": self.set_id, "control_number": self.control_number, "code": self.code or None,
            "outcome": self.outcome,
            "reasons": [{"code": r, "meaning": _meaning(SET_CODES, r)} for r in self.reasons],
            "segments": [s.to_dict() for s in self.segments], "context": self.context or None,
        }


@dataclass(slots=True)
class GroupOutcome:
    """One 997/999 (AK1..AK9): the partner's verdict on one functional group of ours."""

    kind: str  # "997" | "999"
    ack_control_number: str  # ST02 of the 997/999 itself
    functional_id: str = ""  # AK101
    control_number: str = ""  # AK102: our GS06
    version: str = ""  # AK103 (004010 997s often leave it out)
    sets: list[SetOutcome] = field(default_factory=list)
    code: str = ""  # AK901
    declared: str = ""  # AK902: sets included
    received: str = ""  # AK903
    accepted: str = ""  # AK904
    reasons: list[str] = field(default_factory=list)  # AK905..AK909

    @property
    def outcome(self) -> str:
        return OUTCOME.get(self.code, "rejected") if self.code else "rejected"

    def lines(self) -> list[str]:
        head = (f"{self.kind} for group {self.functional_id} {self.control_number}: "
                f"{_meaning(ACK_CODES, self.code) if self.code else 'no AK9'}")
        if self.declared:
            head += f" ({self.accepted or 0} of {self.declared} sets accepted)"
        return [head, *(f"  {_meaning(GROUP_CODES, r)} (code {r})" for r in self.reasons)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "functional_id": self.functional_id, "control_number": self.control_number,
            "version": self.version or None, "code": self.code or None, "outcome": self.outcome,
            "declared": self.declared or None, "received": self.received or None, "accepted": self.accepted or None,
            "reasons": [{"code": r, "meaning": _meaning(GROUP_CODES, r)} for r in self.reasons],
            "sets": [s.to_dict() for s in self.sets],
        }


@dataclass(slots=True)
class Ta1Outcome:
    control_number: str  # TA101: our ISA13
    date: str
    time: str
    status: str  # TA104: A, E, R
    note_code: str  # TA105

    @property
    def outcome(self) -> str:
        return OUTCOME.get(self.status, "rejected")

    @property
    def note(self) -> str:
        return _meaning(TA1_NOTES, self.note_code)

    def lines(self) -> list[str]:
        return [f"TA1 for interchange {self.control_number}: {_meaning(ACK_CODES, self.status)}; "
                f"{self.note} (note {self.note_code})"]

    def to_dict(self) -> dict[str, Any]:
        return {"control_number": self.control_number, "status": self.status, "outcome": self.outcome,
                "note_code": self.note_code, "note": self.note}


@dataclass(slots=True)
class AckInterchange:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    control_number: str  # ISA13 of the acknowledgement itself
    ta1s: list[Ta1Outcome] = field(default_factory=list)
    groups: list[GroupOutcome] = field(default_factory=list)
    other_sets: list[str] = field(default_factory=list)  # set ids that are not acknowledgements


@dataclass(slots=True)
class AckDocument:
    interchanges: list[AckInterchange] = field(default_factory=list)

    @property
    def is_acknowledgement(self) -> bool:
        """Only TA1s and 997/999 sets: nothing for the mapping step."""
        return bool(self.interchanges) and all(
            not ic.other_sets and (ic.ta1s or ic.groups) for ic in self.interchanges
        )


def _int(value: str) -> int | None:
    v = value.strip()
    return int(v) if v.isdigit() else None


def _element_note(seg: Segment) -> ElementNote:
    comps = seg.components(1) if seg.element(1) else [""]
    comps += ["", "", ""]
    return ElementNote(
        position=_int(comps[0]), component=_int(comps[1]), repeat=_int(comps[2]),
        reference=seg.element(2).strip(), code=seg.element(3).strip(), value=seg.element(4),
    )


def _ctx(seg: Segment) -> str:
    parts = [p for p in (seg.element(i).strip() for i in range(1, len(seg) + 1)) if p]
    return " ".join(parts).replace(seg.delimiters.component or ":", " ")


def read_acknowledgements(source: Source, *, field_of: FieldOf | None = None) -> AckDocument:
    """Every TA1 and 997/999 in ``source``, in file order. Never raises for bad input: what cannot be read is
    left out (the envelope analysis reports the syntax)."""
    doc = AckDocument()
    ic: AckInterchange | None = None
    group_version = ""
    group: GroupOutcome | None = None
    current: SetOutcome | None = None
    seg_note: SegmentNote | None = None
    el_note: ElementNote | None = None
    in_set: str | None = None  # set id of the open ST
    for seg in X12Reader(source):
        sid = seg.id.strip()
        if sid == "ISA":
            ic = AckInterchange(seg.element(5).strip(), seg.element(6).strip(), seg.element(7).strip(),
                                seg.element(8).strip(), seg.element(13).strip())
            doc.interchanges.append(ic)
        elif ic is None:
            continue
        elif sid == "TA1":
            ic.ta1s.append(Ta1Outcome(seg.element(1).strip(), seg.element(2).strip(), seg.element(3).strip(),
                                      seg.element(4).strip(), seg.element(5).strip()))
        elif sid == "GS":
            group_version = seg.element(8).strip()
        elif sid == "ST":
            in_set = seg.element(1).strip()
            if in_set in ("997", "999"):
                group = GroupOutcome(in_set, seg.element(2).strip(), version=group_version)
                ic.groups.append(group)
            else:
                group = None
                ic.other_sets.append(in_set)
            current = seg_note = el_note = None
        elif sid == "SE":
            in_set, group, current, seg_note, el_note = None, None, None, None, None
        elif group is None:
            continue
        elif sid == "AK1":
            group.functional_id = seg.element(1).strip()
            group.control_number = seg.element(2).strip()
            group.version = seg.element(3).strip() or group.version
        elif sid == "AK2":
            current = SetOutcome(seg.element(1).strip(), seg.element(2).strip())
            group.sets.append(current)
            seg_note = el_note = None
        elif sid in ("AK3", "IK3") and current is not None:
            seg_note = SegmentNote(seg.element(1).strip(), _int(seg.element(2)), seg.element(3).strip(),
                                   seg.element(4).strip())
            current.segments.append(seg_note)
            el_note = None
        elif sid in ("AK4", "IK4") and current is not None:
            el_note = _element_note(seg)
            if seg_note is None:  # an element note without its segment: keep it under an unnamed segment
                seg_note = SegmentNote("?", None, "", "")
                current.segments.append(seg_note)
            seg_note.elements.append(el_note)
        elif sid == "CTX" and current is not None:
            text = _ctx(seg)
            if el_note is not None:
                el_note.context.append(text)
            elif seg_note is not None:
                seg_note.context.append(text)
            else:
                current.context.append(text)
        elif sid in ("AK5", "IK5") and current is not None:
            current.code = seg.element(1).strip()
            current.reasons = [c for c in (seg.element(i).strip() for i in range(2, 7)) if c]
            current, seg_note, el_note = None, None, None
        elif sid == "AK9":
            group.code = seg.element(1).strip()
            group.declared, group.received, group.accepted = (seg.element(i).strip() for i in (2, 3, 4))
            group.reasons = [c for c in (seg.element(i).strip() for i in range(5, 10)) if c]
    if field_of is not None:
        _name_fields(doc, field_of)
    return doc


def _name_fields(doc: AckDocument, field_of: FieldOf) -> None:
    for ic in doc.interchanges:
        for g in ic.groups:
            for s in g.sets:
                for seg in s.segments:
                    for e in seg.elements:
                        if e.position:
                            e.canonical_field = field_of(s.set_id, g.version, seg.segment_id, e.position)
