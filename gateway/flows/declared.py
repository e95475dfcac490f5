"""Declared documents, enforced: an inbound transaction set the partner file does not list is refused or noted.

A partner file lists what the partner sends us under ``documents`` (set id, direction ``inbound``, GS08 version).
After the partner is identified, :func:`enforce_declared` checks every transaction set of the analysis against
that list, and the partner's ``declared`` policy decides, separately for an undeclared set id and for a declared
set id in another version:

- ``reject`` (the default): an error on the transaction set, code ``transaction_set_not_declared`` or
  ``transaction_set_version_not_declared``, so the 997/999 answers ``AK5*R*1`` / ``IK5*R*1`` (transaction set not
  supported) and the message fails with the reason;
- ``warn``: a warning without an X12 code (the set is accepted, ``AK5*A``), kept in the analysis and written on
  the message's timeline as a ``document.undeclared`` event.

Acknowledgements (997, 999) are never subject to it: they answer what we sent. A set sent without a functional
group has no version to compare. A declared version without an industry suffix (``004010``) accepts any suffix
(``004010VICS``); one with a suffix must match exactly.

Pure: analysis and partner in, issues out (and added to the analysis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.edi.x12.issues import CATALOGUE, Issue, Level, Severity
from gateway.edi.x12.model import NO_ISSUES, Analysis, Group, Interchange, Transaction
from gateway.edi.x12.sets import changeable
from gateway.errors import Location
from gateway.partners.schema import Partner

ALWAYS_ACCEPTED = frozenset({"997", "999"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One transaction set outside the partner's declared documents, and what was done with it."""

    issue: Issue
    action: str  # "rejected" or "accepted"

    def to_dict(self) -> dict[str, Any]:
        i = self.issue
        return {"code": i.code, "set_id": i.set_id, "control_number": i.transaction, "group": i.group,
                "interchange": i.interchange, "action": self.action, "reason": i.message}


def version_matches(declared: str, sent: str) -> bool:
    if sent == declared:
        return True
    return len(declared) == 6 and declared.isdigit() and sent.startswith(declared)


def enforce_declared(analysis: Analysis, partner: Partner, *, file: str | None = None) -> list[Finding]:
    """Check each transaction set against ``partner.documents`` (inbound); add an issue for each one outside it."""
    declared = [d for d in partner.documents if d.direction == "inbound"]
    findings: list[Finding] = []
    for ic in analysis.interchanges:
        for group in ic.groups:
            for i, tx in enumerate(group.transactions):
                finding = _check(partner, declared, ic, group, tx, file)
                if finding is not None:  # the set's issue: kept on it (a set stored compactly is taken out)
                    _add(analysis, changeable(group.transactions, i), finding.issue, position=len(findings))
                    findings.append(finding)
    return findings


def timeline_events(findings: list[Finding], limit: int = 20) -> list[tuple[str, dict[str, Any]]]:
    """``document.undeclared`` events for the message's timeline (the first ``limit``, then a count)."""
    events = [("document.undeclared", f.to_dict()) for f in findings[:limit]]
    if len(findings) > limit:
        events.append(("document.undeclared", {"more": len(findings) - limit}))
    return events


def _check(partner: Partner, declared: list[Any], ic: Interchange, group: Group, tx: Transaction,
           file: str | None) -> Finding | None:
    if tx.set_id in ALWAYS_ACCEPTED or not tx.set_id:
        return None
    same_set = [d for d in declared if d.set_id == tx.set_id]
    if not same_set:
        listed = ", ".join(sorted({f"{d.set_id} ({d.version})" for d in declared})) or "none"
        code, policy = "transaction_set_not_declared", partner.declared.undeclared
        message = (f"transaction set {tx.set_id} is not declared inbound for partner {partner.id} "
                   f"(declared inbound: {listed})")
    elif not group.enveloped or any(version_matches(d.version, group.version) for d in same_set):
        return None
    else:
        versions = ", ".join(sorted(d.version for d in same_set))
        code, policy = "transaction_set_version_not_declared", partner.declared.other_version
        message = (f"transaction set {tx.set_id} came in version {group.version or '(none)'} (GS08), but partner "
                   f"{partner.id} declared {versions}")
    reject = policy == "reject"
    info = CATALOGUE[code]
    issue = Issue(
        code=code,
        message=message if reject else message + "; accepted as the partner file says (declared: warn)",
        severity=Severity.ERROR if reject else Severity.WARNING,
        location=Location(file=file, segment_id="ST", segment_position=1, element_position=1),
        level=Level.TRANSACTION,
        x12_code=info.x12 if reject else None,  # a warning stays ours: the partner's ack says accepted
        hint=info.hint,
        file_segment=tx.first_segment or None,
        interchange=ic.control_number if ic.enveloped else None,
        group=group.control_number if group.enveloped else None,
        transaction=tx.control_number,
        set_id=tx.set_id,
    )
    return Finding(issue, "rejected" if reject else "accepted")


def _add(analysis: Analysis, tx: Transaction, issue: Issue, *, position: int) -> None:
    if tx.issues is NO_ISSUES:
        tx.issues = []
    tx.issues.insert(0, issue)  # the reason comes first: it is why the set was refused
    analysis.issues.insert(position, issue)
    if issue.severity is Severity.ERROR:
        tx.error_count += 1
        analysis.error_count += 1
