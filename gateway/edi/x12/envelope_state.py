"""The state of one envelope analysis (see :mod:`gateway.edi.x12.envelope`) and how issues are recorded: the
ISA/IEA, GS/GE and ST/SE steps (:mod:`.envelope_interchange`, :mod:`.envelope_group`, :mod:`.envelope_set`) are
functions of this state, so each kind of envelope lives in its own module.
"""

from __future__ import annotations

from typing import Any

from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.elements import SegmentChecker
from gateway.edi.x12.issues import Issue, Severity, make_issue
from gateway.edi.x12.model import NO_ISSUES, Analysis, Group, Interchange, Transaction
from gateway.edi.x12.reader import MAX_SEGMENT_LENGTH
from gateway.edi.x12.rules import NO_RULES, Rules
from gateway.edi.x12.sets import TransactionList
from gateway.edi.x12.specs import SpecLibrary, library
from gateway.edi.x12.validate import TransactionValidator
from gateway.errors import Location


def number(value: str) -> int | None:
    """A count or control number as an int (``None`` when it is not ASCII digits)."""
    v = value.strip()
    return int(v) if v.isascii() and v.isdigit() else None


class EnvelopeState:
    """Where one analysis is (interchange, group, transaction set and its validator, positions, control numbers
    seen) and what it has found."""

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
        # ST02 of the group's earlier sets, once one came out of order (see seen_set_control)
        self.set_controls: set[str] | None = None
        self.set_top = -1  # until then: the highest ST02 so far (all of them digits)
        self.before_groups = True
        # per analysis: merged rules by group version, and the shared compiled checkers by spec, rules, delimiters
        self.merged_rules: dict[str, Rules] = {}
        self.set_setups: dict[tuple[str, str, Delimiters], tuple[Any, str, Any]] = {}  # see envelope_set.start_set
        self.last_setup: tuple[str, str, Delimiters, tuple[Any, str, Any]] | None = None
        self.compiled_checks: dict[tuple[Any, ...], tuple[dict[str, SegmentChecker], dict[str, Any]]] = {}
        control = self.specs.control
        self.isa_rules = control["isa"]
        self.codes, self.agencies = self.specs.control_sets()
        self.functional_ids = self.specs.functional_ids()

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

    def new_group(self) -> None:
        self.set_controls = None
        self.set_top = -1

    def seen_set_control(self, control: str) -> bool:
        """Whether an earlier set of the current group has ST02 ``control`` (the set just started is the group's
        last). Sets mostly count up: while every ST02 is digits and above the ones before, none can repeat, and
        none is remembered (a 100,000-set group would hold a set of 100,000 strings); the first one out of order
        or not digits takes the group's ST02s from its sets, remembered from then on."""
        seen = self.set_controls
        if seen is None:
            if control.isascii() and control.isdigit() and len(control) <= 18 and int(control) > self.set_top:
                self.set_top = int(control)
                return False
            assert self.group is not None
            sets = self.group.transactions
            n = len(sets) - 1
            seen = self.set_controls = set(sets.control_numbers(n) if isinstance(sets, TransactionList)
                                           else (t.control_number for t in sets[:n]))
        if control in seen:
            return True
        seen.add(control)
        return False

    def ensure_interchange(self) -> Interchange:
        if self.ic is None:
            ic = Interchange(enveloped=False, first_segment=self.fs, delimiters=self.delims)
            self.analysis.interchanges.append(ic)
            self.ic = ic
            self.group_controls = set()
            self.envelope_issue("envelope_missing", "data sent without an ISA interchange header: it cannot be "
                                "acknowledged", ic, None)
        return self.ic
