"""What :func:`gateway.edi.x12.analyze` returns: the interchanges, groups and transaction sets of a document and
every issue found, attached where it belongs.

Each level keeps the issues that concern it: a transaction set keeps its segment and element issues, a group its
envelope issues (GS/GE), an interchange its ISA/IEA issues. :attr:`Analysis.errors` and
:attr:`Analysis.warnings` list every issue of the document, in document order. Objects use ``__slots__`` and keep
no segment data, and a group's plain transaction sets are kept as rows of columns (:mod:`.sets`), so a file with
hundreds of thousands of transaction sets stays small in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.issues import Issue, Severity


class _NoIssues(list):  # type: ignore[type-arg]
    """The shared, read-only ``issues`` of every transaction set that has none (most of them): an empty list per
    set would be a quarter of the memory a large file's analysis keeps. The analyser replaces it with a list of
    its own on the first issue; appending to it directly is a bug and raises."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("this transaction set has no issue list of its own: assign a new list")

    append = extend = insert = __iadd__ = __setitem__ = _refuse  # type: ignore[assignment]


NO_ISSUES: list[Issue] = _NoIssues()


def _no_issues() -> list[Issue]:
    return NO_ISSUES


class _Issues:
    """Mixin: ``errors`` / ``warnings`` views over ``issues``."""

    __slots__ = ()  # without it every instance would also carry a __dict__
    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]


@dataclass(slots=True, eq=False)
class Transaction(_Issues):
    """One transaction set (ST..SE)."""

    set_id: str
    control_number: str
    spec: str | None = None  # e.g. "856/004010": the specification it was validated against
    segment_count: int = 0  # segments counted from ST to SE inclusive
    declared_count: str | None = None  # SE01 as sent
    trailer_control_number: str | None = None  # SE02 as sent
    implementation_reference: str | None = None  # ST03 (004020+)
    issues: list[Issue] = field(default_factory=_no_issues)  # NO_ISSUES (shared, empty) until the first issue
    first_segment: int = 0  # file ordinal of ST
    error_count: int = 0  # errors, including those beyond the reporting limit

    @property
    def valid(self) -> bool:
        return self.error_count == 0

    @property
    def ack_status(self) -> str:
        """``"A"`` accepted, ``"E"`` accepted with errors noted (warnings that carry an X12 code), ``"R"``."""
        if self.error_count:
            return "R"
        if any(i.x12_code is not None for i in self.issues):
            return "E"
        return "A"

    def to_dict(self) -> dict[str, Any]:
        return {
            "set_id": self.set_id,
            "control_number": self.control_number,
            "valid": self.valid,
            "segment_count": self.segment_count,
            "spec": self.spec,
            "errors": [i.to_dict() for i in self.errors],
            "warnings": [i.to_dict() for i in self.warnings],
        }


@dataclass(slots=True, eq=False)
class Group(_Issues):
    """One functional group (GS..GE); ``enveloped`` is false for transaction sets sent without GS."""

    functional_id: str
    sender_id: str
    receiver_id: str
    date: str
    time: str
    control_number: str
    agency: str
    version: str
    declared_count: str | None = None  # GE01 as sent
    trailer_control_number: str | None = None  # GE02 as sent
    enveloped: bool = True
    # the analysis keeps them compactly (gateway.edi.x12.sets.TransactionList); any sequence of sets reads the same
    transactions: Sequence[Transaction] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors and all(t.valid for t in self.transactions)

    @property
    def family(self) -> str:
        """``"004010"``-style version/release (first six characters of GS08) or ``""``."""
        return self.version[:6] if self.version[:6].isdigit() else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "functional_id": self.functional_id,
            "version": self.version,
            "control_number": self.control_number,
            "sender_id": self.sender_id,
            "receiver_id": self.receiver_id,
            "valid": self.valid,
            "errors": [i.to_dict() for i in self.errors],
            "warnings": [i.to_dict() for i in self.warnings],
            "transactions": [t.to_dict() for t in self.transactions],
        }


@dataclass(slots=True, eq=False)
class InterchangeAck:
    """A TA1 segment received inside an interchange."""

    control_number: str
    date: str
    time: str
    status: str
    note_code: str


@dataclass(slots=True, eq=False)
class Interchange(_Issues):
    """One interchange (ISA..IEA); ``enveloped`` is false for data sent without ISA."""

    sender_qualifier: str = ""
    sender_id: str = ""
    receiver_qualifier: str = ""
    receiver_id: str = ""
    date: str = ""
    time: str = ""
    control_number: str = ""
    version: str = ""  # ISA12
    standards_id: str = ""  # ISA11 (also the repetition separator from 00402 on)
    usage: str = ""  # ISA15: P production, T test, I information
    ack_requested: bool = False  # ISA14 == "1"
    delimiters: Delimiters | None = None
    authorization_qualifier: str = ""
    authorization: str = ""
    security_qualifier: str = ""
    security: str = ""
    declared_group_count: str | None = None  # IEA01 as sent
    trailer_control_number: str | None = None  # IEA02 as sent
    enveloped: bool = True
    closed: bool = False  # an IEA was found
    fatal: bool = False  # the interchange cannot be processed (unusable ISA, premature end of file)
    groups: list[Group] = field(default_factory=list)
    acks: list[InterchangeAck] = field(default_factory=list)  # TA1 segments received
    issues: list[Issue] = field(default_factory=list)
    first_segment: int = 0

    @property
    def valid(self) -> bool:
        return not self.errors and all(g.valid for g in self.groups)

    @property
    def transactions(self) -> list[Transaction]:
        return [t for g in self.groups for t in g.transactions]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sender": self.sender_id,
            "receiver": self.receiver_id,
            "sender_qualifier": self.sender_qualifier,
            "receiver_qualifier": self.receiver_qualifier,
            "control_number": self.control_number,
            "version": self.version,
            "usage": self.usage,
            "ack_requested": self.ack_requested,
            "enveloped": self.enveloped,
            "valid": self.valid,
            "errors": [i.to_dict() for i in self.errors],
            "warnings": [i.to_dict() for i in self.warnings],
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass(slots=True, eq=False)
class Analysis:
    """The result of :func:`gateway.edi.x12.analyze`."""

    interchanges: list[Interchange] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)  # every issue, in document order
    file: str | None = None
    tolerant: bool = False
    segment_count: int = 0
    suppressed: int = 0  # issues beyond the reporting limit (counted, not kept)
    error_count: int = 0  # every error, including suppressed ones

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    @property
    def valid(self) -> bool:
        return self.error_count == 0 and bool(self.interchanges)

    @property
    def is_edi(self) -> bool:
        return bool(self.interchanges)

    @property
    def transactions(self) -> list[Transaction]:
        return [t for ic in self.interchanges for t in ic.transactions]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``gateway x12 validate --json`` (one file)."""
        return {
            "file": self.file,
            "valid": self.valid,
            "warnings": [i.to_dict() for i in self.warnings],
            "errors": [i.to_dict() for i in self.errors],
            "interchanges": [ic.to_dict() for ic in self.interchanges],
        }
