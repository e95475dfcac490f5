"""Problems found in an X12 document: one catalogue of codes, each tied to the acknowledgement code it produces.

Every problem the engine reports is an :class:`Issue`: a stable ``code`` (see :data:`CATALOGUE`), a human
``message``, a ``severity``, a :class:`gateway.errors.Location` and the X12 acknowledgement code it maps to:

==============  =========================================  ===========================================
level           acknowledged in                            ``x12_code`` is a value of
==============  =========================================  ===========================================
interchange     TA1 (TA105 note code)                      DE I18 (``"001"``..``"031"``)
group           997/999 AK9 (AK905..AK909)                 DE 716 (``"2"`` version not supported, ...)
transaction     997 AK5 / 999 IK5 (AK502.. / IK502..)      DE 718 (``"4"`` segment count wrong, ...)
segment         997 AK3 / 999 IK3 (AK304 / IK304)          DE 720 / 620 (``"7"`` out of sequence, ...)
element         997 AK4 / 999 IK4 (AK403 / IK403)          DE 723 / 621 (``"5"`` too long, ...)
==============  =========================================  ===========================================

``x12_code_999`` is set where the 999 (005010) has a more precise code than the 997 (004010), for instance
"too many repetitions" (999 ``12``; the 004010 997 has no such code and uses ``6``, invalid character).

Severities: ``error`` (the item is rejected), ``warning`` (accepted, reported). Some codes are *tolerable*:
errors in strict mode, warnings in tolerant mode (what real partners send: unpadded ISA fields, a line break
inside the ISA, a missing ISA16...). :func:`severity_for` applies that rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.errors import DocumentError, EnvelopeError, Location, NotEDIError, X12SyntaxError


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Level(StrEnum):
    INTERCHANGE = "interchange"
    GROUP = "group"
    TRANSACTION = "transaction"
    SEGMENT = "segment"
    ELEMENT = "element"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """Static facts about one issue code."""

    level: Level
    title: str
    x12: str | None = None  # the code used in TA1 / 997 (and in 999 unless x12_999 is given)
    x12_999: str | None = None
    kind: str = "error"  # "error", "warning" (always) or "tolerable" (error when strict, warning when tolerant)
    hint: str | None = None


_I, _G, _T, _S, _E = Level.INTERCHANGE, Level.GROUP, Level.TRANSACTION, Level.SEGMENT, Level.ELEMENT
_FIX = "ask the partner to correct their translator's envelope settings"

#: Every code the engine emits. Keys are stable: tests, the store and partner rules refer to them.
CATALOGUE: dict[str, CodeInfo] = {
    # -- file / interchange (TA1 note codes, DE I18) ---------------------------------------------------
    "not_edi": CodeInfo(_I, "not an X12 document", hint="check that the partner sent the right file"),
    "envelope_missing": CodeInfo(
        _I, "transaction sets without ISA/GS envelope", kind="tolerable",
        hint="ask the partner to send complete ISA..IEA interchanges; a bare set cannot be acknowledged",
    ),
    "junk_data": CodeInfo(_I, "data outside any interchange", "024"),
    "isa_malformed": CodeInfo(_I, "ISA segment malformed", "022", hint=_FIX),
    "isa_not_fixed_width": CodeInfo(_I, "ISA element not padded to its fixed width", kind="tolerable", hint=_FIX),
    "isa_line_break": CodeInfo(_I, "line break inside the ISA segment", "022", kind="tolerable", hint=_FIX),
    "isa16_missing": CodeInfo(_I, "ISA16 component separator missing", "027", kind="tolerable", hint=_FIX),
    "delimiter_invalid": CodeInfo(_I, "invalid delimiter", "026", hint=_FIX),
    "isa_element_invalid": CodeInfo(_I, "invalid ISA element", "022", hint=_FIX),
    "iea_missing": CodeInfo(_I, "IEA trailer missing (premature end of file)", "023",
                            hint="the file is truncated: ask the partner to resend it"),
    "iea_control_mismatch": CodeInfo(_I, "IEA02 does not match ISA13", "001", hint=_FIX),
    "iea_control_unpadded": CodeInfo(_I, "IEA02 equals ISA13 only numerically", "001", kind="tolerable", hint=_FIX),
    "iea_count_mismatch": CodeInfo(_I, "IEA01 does not match the number of groups", "021", hint=_FIX),
    "iea_element_invalid": CodeInfo(_I, "invalid IEA element", "021", hint=_FIX),
    "interchange_content_invalid": CodeInfo(_I, "invalid content at interchange level", "024"),
    "gs_element_invalid": CodeInfo(_I, "invalid GS element", "024", hint=_FIX),
    "control_segment_invalid": CodeInfo(_I, "invalid TA1/ISB/ISE segment", "024"),
    "count_leading_zeros": CodeInfo(_I, "count sent with leading zeros", kind="warning"),
    "id_padded": CodeInfo(_I, "application id has surrounding spaces", kind="warning"),
    # -- functional group (AK905, DE 716) -----------------------------------------------------------------
    "group_version_unsupported": CodeInfo(
        _G, "functional group version not supported", "2",
        hint="the gateway has no specification for this version: agree on 004010 or 005010 with the partner",
    ),
    "ge_missing": CodeInfo(_G, "GE trailer missing", "3"),
    "ge_control_mismatch": CodeInfo(_G, "GE02 does not match GS06", "4", hint=_FIX),
    "ge_control_unpadded": CodeInfo(_G, "GE02 equals GS06 only numerically", "4", kind="tolerable", hint=_FIX),
    "ge_count_mismatch": CodeInfo(_G, "GE01 does not match the number of transaction sets", "5", hint=_FIX),
    "gs_control_invalid": CodeInfo(_G, "GS06 group control number invalid", "6", hint=_FIX),
    "gs_control_duplicate": CodeInfo(_G, "group control number not unique in the interchange", None, "19"),
    # -- transaction set (AK502 / IK502, DE 718) --------------------------------------------------------------
    "transaction_set_unsupported": CodeInfo(_T, "transaction set not supported", "1"),
    "se_missing": CodeInfo(_T, "SE trailer missing", "2"),
    "se_control_mismatch": CodeInfo(_T, "SE02 does not match ST02", "3"),
    "se_count_mismatch": CodeInfo(_T, "SE01 does not match the number of segments", "4"),
    "st_set_id_invalid": CodeInfo(_T, "transaction set identifier missing or invalid", "6"),
    "st_control_invalid": CodeInfo(_T, "transaction set control number missing or invalid", "7"),
    "st_control_duplicate": CodeInfo(_T, "transaction set control number not unique in the group", "23"),
    "st_group_mismatch": CodeInfo(_T, "transaction set does not belong in this functional group", "6"),
    "transaction_set_not_declared": CodeInfo(
        _T, "transaction set not declared for this partner", "1",
        hint="add it to the partner file's documents (inbound), or ask the partner not to send it",
    ),
    "transaction_set_version_not_declared": CodeInfo(
        _T, "transaction set version not declared for this partner", "1",
        hint="declare this version in the partner file's documents, or ask the partner to send the declared one",
    ),
    # -- segment (AK304 / IK304, DE 720 / 620) -------------------------------------------------------------------
    "segment_unrecognized": CodeInfo(_S, "unrecognized segment id", "1"),
    "segment_unexpected": CodeInfo(_S, "unexpected segment", "2"),
    "segment_missing": CodeInfo(_S, "mandatory segment missing", "3"),
    "loop_max_exceeded": CodeInfo(_S, "loop occurs over maximum times", "4"),
    "segment_max_use": CodeInfo(_S, "segment exceeds maximum use", "5"),
    "segment_not_in_set": CodeInfo(_S, "segment not in defined transaction set", "6"),
    "segment_out_of_order": CodeInfo(_S, "segment not in proper sequence", "7"),
    "segment_too_long": CodeInfo(_S, "segment longer than the reader's limit", "8"),
    "partner_must_use": CodeInfo(_S, "segment required by the partner's rules missing", "3"),
    "trailing_separator": CodeInfo(_S, "segment ends with empty elements", kind="warning",
                                   hint="trailing element separators must be omitted"),
    "hl_parent_missing": CodeInfo(_S, "HL without parent id", kind="warning"),
    # -- element (AK403 / IK403, DE 723 / 621) -----------------------------------------------------------------------
    "element_missing": CodeInfo(_E, "mandatory data element missing", "1"),
    "element_conditional_missing": CodeInfo(_E, "conditional required data element missing", "2"),
    "element_too_many": CodeInfo(_E, "too many data elements", "3"),
    "element_too_short": CodeInfo(_E, "data element too short", "4"),
    "element_too_long": CodeInfo(_E, "data element too long", "5"),
    "element_invalid_character": CodeInfo(_E, "invalid character in data element", "6"),
    "element_invalid_code": CodeInfo(_E, "invalid code value", "7"),
    "element_invalid_date": CodeInfo(_E, "invalid date", "8"),
    "element_invalid_time": CodeInfo(_E, "invalid time", "9"),
    "element_exclusion": CodeInfo(_E, "exclusion condition violated", "10"),
    "element_too_many_repetitions": CodeInfo(_E, "too many repetitions", "6", "12"),
    "element_too_many_components": CodeInfo(_E, "too many components", "6", "13"),
    "repetition_in_simple_element": CodeInfo(
        _E, "repetition separator inside a non-repeating element", "6", "12", kind="tolerable",
        hint="in tolerant mode the character is read as data; the partner should not use a delimiter in data",
    ),
    "component_in_simple_element": CodeInfo(
        _E, "component separator inside a simple element", "6", "13", kind="tolerable",
        hint="in tolerant mode the character is read as data; the partner should not use a delimiter in data",
    ),
    "line_break_in_segment": CodeInfo(_E, "line break inside a segment", "6", kind="tolerable",
                                      hint="ask the partner not to wrap lines inside segments"),
    "element_trailing_spaces": CodeInfo(_E, "data element has trailing spaces", kind="warning"),
    "hl_invalid": CodeInfo(_E, "hierarchical structure inconsistent", "7"),
    "partner_code_restricted": CodeInfo(_E, "code not allowed by the partner's rules", "7", "I6"),
    "partner_element_required": CodeInfo(_E, "element required by the partner's rules", "1"),
}


def severity_for(code: str, tolerant: bool) -> Severity:
    kind = CATALOGUE[code].kind
    if kind == "warning" or (kind == "tolerable" and tolerant):
        return Severity.WARNING
    return Severity.ERROR


@dataclass(slots=True)
class Issue:
    """One problem, where it is, and the acknowledgement code it maps to."""

    code: str
    message: str
    severity: Severity
    location: Location = field(default_factory=Location)
    level: Level = Level.INTERCHANGE
    x12_code: str | None = None
    x12_code_999: str | None = None
    hint: str | None = None
    file_segment: int | None = None  # 1-based ordinal of the segment in the file (envelope segments included)
    interchange: str | None = None  # ISA13 of the interchange, as sent
    group: str | None = None  # GS06
    transaction: str | None = None  # ST02
    set_id: str | None = None  # ST01
    element_ref: str | None = None  # X12 data element reference number (AK402 / IK402)
    bad_value: str | None = None  # copy of the bad data (AK404 / IK404)
    repetition: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def code_for(self, ack: str) -> str | None:
        """The X12 code for a ``"997"``/``"TA1"`` or a ``"999"`` acknowledgement."""
        if ack == "999" and self.x12_code_999 is not None:
            return self.x12_code_999
        return self.x12_code

    def where(self) -> str:
        loc = self.location
        parts: list[str] = []
        if loc.file:
            parts.append(loc.file)
        if self.set_id or self.transaction:
            parts.append(f"transaction set {self.set_id or '?'} {self.transaction or ''}".rstrip())
        elif self.group:
            parts.append(f"group {self.group}")
        elif self.interchange:
            parts.append(f"interchange {self.interchange}")
        if loc.segment_id or loc.segment_position is not None:
            seg = loc.segment_id or "segment"
            if loc.element_position is not None:
                seg += f"{loc.element_position:02d}"
                if loc.component_position is not None:
                    seg += f"-{loc.component_position}"
            if loc.segment_position is not None:
                scope = "set" if self.transaction is not None else "file"
                seg += f" (segment {loc.segment_position} of the {scope})"
            parts.append(seg)
        if loc.loop:
            parts.append(f"loop {loc.loop}")
        return ", ".join(parts)

    def describe(self) -> str:
        """One human line: what, where (segment id + position + element), what to do."""
        where = self.where()
        text = f"{self.severity.value}: {where}: {self.message}" if where else f"{self.severity.value}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        loc = self.location
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "severity": self.severity.value,
            "segment_id": loc.segment_id,
            "segment_position": loc.segment_position,
            "element_position": loc.element_position,
        }
        if loc.component_position is not None:
            out["component_position"] = loc.component_position
        if loc.loop:
            out["loop"] = loc.loop
        if self.file_segment is not None:
            out["file_segment"] = self.file_segment
        for key in ("interchange", "group", "transaction", "set_id"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.x12_code is not None or self.x12_code_999 is not None:
            out["ack_code"] = {"level": self.level.value, "997": self.x12_code, "999": self.code_for("999")}
        if self.hint:
            out["hint"] = self.hint
        return out

    def to_exception(self) -> DocumentError:
        """The matching :mod:`gateway.errors` exception, for callers that raise."""
        cls: type[DocumentError]
        if self.code == "not_edi":
            cls = NotEDIError
        elif self.level in (Level.SEGMENT, Level.ELEMENT):
            cls = X12SyntaxError
        else:
            cls = EnvelopeError
        return cls(self.message, location=self.location, hint=self.hint, ack_code=self.x12_code)


def make_issue(
    code: str,
    message: str,
    *,
    tolerant: bool = False,
    severity: Severity | None = None,
    location: Location | None = None,
    x12_code: str | None = None,
    **context: Any,
) -> Issue:
    """Build an :class:`Issue` from the catalogue; ``x12_code`` overrides the catalogue's (TA1 per element)."""
    info = CATALOGUE[code]
    return Issue(
        code=code,
        message=message,
        severity=severity if severity is not None else severity_for(code, tolerant),
        location=location if location is not None else Location(),
        level=info.level,
        x12_code=x12_code if x12_code is not None else info.x12,
        x12_code_999=info.x12_999 if x12_code is None else None,
        hint=context.pop("hint", info.hint),
        **context,
    )
