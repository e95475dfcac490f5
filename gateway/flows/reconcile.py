"""Reconciliation: a partner's 997/999/TA1 matched to the outbound documents it answers.

An inbound acknowledgement is never a business document: the inbound flow hands it here instead of the mapping
step. Each functional group it answers is looked up among our outbound messages' lineage by partner, GS01 (AK101)
and GS06 (AK102), each set by ST01/ST02 (AK201/AK202), leading zeros and padding tolerated; a TA1 by ISA13. Each
matched document gets its acknowledgement status (``accepted``, ``accepted_with_errors``, ``partially_accepted``,
``rejected``), an ``ack.<status>`` event carrying the AK3/AK4 (IK3/IK4/CTX) detail as readable lines, and an
:class:`~gateway.store.models.AckLink` to the acknowledgement (so each is shown from the other). An acknowledgement
matching nothing ends ``unmatched`` with the reason. A late acknowledgement (the document already ``overdue``)
reconciles the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from gateway.edi.x12.ack_read import AckDocument, GroupOutcome, SetOutcome, control_key, read_acknowledgements
from gateway.errors import DocumentError
from gateway.logging import get_logger
from gateway.mapping.x12 import mapping_for
from gateway.store.archive import Archive
from gateway.store.models import Message
from gateway.store.reconciliation import AckRows, SentSet, Verdict
from gateway.store.repository import Store

log = get_logger(__name__)
_PATH = re.compile(r"^([A-Z][A-Z0-9]{1,2})(?:\[[^\]]*\])?[.-](\d{1,2})")


@dataclass(slots=True)
class Reconciled:
    """What one acknowledgement message reconciled: outbound message id -> its new acknowledgement status."""

    matched: dict[int, str | None] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)  # one reason per group / TA1 / set that matched nothing

    def error(self) -> DocumentError | None:
        if self.matched:
            return None
        return DocumentError(
            "acknowledgement matches nothing we sent: " + "; ".join(self.unmatched[:5]),
            hint="check the control numbers with the partner; the acknowledgement is archived and can be reprocessed",
        )


def is_acknowledgement(analysis: Any) -> bool:
    """An analysed file holding only TA1s and 997/999 groups (GS01 FA)."""
    ics = list(analysis.interchanges)
    if not ics:
        return False
    for ic in ics:
        groups = list(ic.groups)
        if not groups and not ic.acks:
            return False
        if any(g.functional_id != "FA" or any(t.set_id not in ("997", "999") for t in g.transactions)
               for g in groups):
            return False
    return True


@lru_cache(maxsize=64)
def _fields(set_id: str, version: str) -> dict[tuple[str, int], str]:
    """(segment id, element position) -> canonical field, from the outbound mapping of ``set_id``."""
    try:
        spec = mapping_for(set_id, version, "out")
    except Exception:  # naming the field is a courtesy; a broken mapping is reported by the mapping step
        return {}
    out: dict[tuple[str, int], str] = {}

    defs = spec.defs if spec is not None else {}

    def paths(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [p for v in value for p in paths(v)]
        return []

    def walk(fields: Any, prefix: str, depth: int = 0) -> None:
        if not isinstance(fields, dict) or depth > 8:
            return
        for name, node in fields.items():
            if isinstance(node, str | list):
                node = {"path": node}
            if not isinstance(node, dict):
                continue
            for path in paths(node.get("path")) + paths(node.get("values")):
                if m := _PATH.match(path.lstrip("./")):
                    out.setdefault((m.group(1), int(m.group(2))), f"{prefix}{name}")
            if isinstance(node.get("use"), str):
                walk(defs.get(node["use"]), f"{prefix}{name}.", depth + 1)
            walk(node.get("fields"), f"{prefix}{name}.", depth + 1)

    if spec is not None:
        walk(spec.fields, "")
    return out


def canonical_field(set_id: str, version: str | None, segment_id: str, position: int) -> str | None:
    return _fields(set_id, (version or "004010")[:6] or "004010").get((segment_id, position))


# acknowledgement statuses internal systems are told about (gateway.flows.handoff.HandoffFlow.announce_ack_outcome)
ANNOUNCED = frozenset({"accepted", "accepted_with_errors", "partially_accepted", "rejected"})


class Reconciler:
    def __init__(self, *, store: Store, archive: Archive, announce: Callable[..., Any] | None = None) -> None:
        self.store = store
        self.archive = archive
        self.rows = AckRows(store)
        # announce(message_id, outcome, reasons=..., ack_message_id=...): the hand-off of acknowledgement outcomes
        self.announce = announce

    def read(self, msg: Message) -> AckDocument:
        assert msg.archive_key is not None
        with self.archive.open(msg.archive_key) as src:
            return read_acknowledgements(src)

    def reconcile(self, msg: Message, partner_id: str) -> Reconciled:
        """Match ``msg`` (an inbound acknowledgement of ``partner_id``) and record the verdicts, in one transaction."""
        assert msg.id is not None
        doc = self.read(msg)
        out = Reconciled()
        verdicts: dict[tuple[int, str], Verdict] = {}
        lines: list[str] = []
        for ic in doc.interchanges:
            for ta1 in ic.ta1s:
                lines += ta1.lines()
                sent = self.rows.sent_interchanges(partner_id, ta1.control_number)
                if not sent:
                    out.unmatched.append(f"TA1 for interchange {ta1.control_number}: we sent no such interchange")
                    continue
                assert sent[0].id is not None
                sets = self.rows.sets_of_interchange(sent[0].id)
                v = verdicts.setdefault((sent[0].message_id, "TA1"), Verdict(sent[0].message_id, "TA1", ta1.status))
                v.detail = {"lines": ta1.lines(), "ta1": ta1.to_dict()}
                if ta1.status == "R":  # the whole interchange was refused: every set in it is rejected
                    v.set_codes.update({t.set_row_id: "R" for t in sets})
            for g in ic.groups:
                lines += g.lines()
                self._group(partner_id, g, verdicts, out)
        for v in verdicts.values():
            v.detail.setdefault("lines", [])
        matched_ids = sorted({v.message_id for v in verdicts.values()})
        event = {"matched": matched_ids, "unmatched": out.unmatched or None, "lines": lines[:200]}
        out.matched = self.rows.record(msg.id, list(verdicts.values()), ack_event=event)
        if self.announce is not None:  # idempotent per outcome: a resumed acknowledgement announces nothing twice
            for mid, status in out.matched.items():
                if status in ANNOUNCED:
                    reasons = [ln for v in verdicts.values() if v.message_id == mid for ln in v.detail["lines"]]
                    self.announce(mid, status, reasons=reasons[:50], ack_message_id=msg.id)
        log.info("ack.reconciled", extra={"fields": {"matched": matched_ids, "unmatched": len(out.unmatched)}})
        return out

    def _group(self, partner_id: str, g: GroupOutcome, verdicts: dict[tuple[int, str], Verdict],
               out: Reconciled) -> None:
        if not g.functional_id or control_key(g.control_number) is None:
            out.unmatched.append(f"{g.kind} {g.ack_control_number} has no usable AK1 (group {g.control_number!r})")
            return
        groups = self.rows.sent_groups(partner_id, g.functional_id, g.control_number)
        if not groups:
            out.unmatched.append(
                f"{g.kind} answers group {g.functional_id} {g.control_number}: we sent no such group to {partner_id}"
            )
            return
        grp = groups[0]
        assert grp.id is not None
        sent = self.rows.sets_of_group(grp.id)
        by_key = {(t.set_id, control_key(t.control_number)): t for t in sent}
        answered: set[int] = set()
        accepted: dict[int, int] = {}  # message id -> sets accepted without remarks (not listed one by one)
        for s in g.sets:
            t = by_key.get((s.set_id, control_key(s.control_number)))
            if t is None:
                out.unmatched.append(
                    f"{g.kind} answers set {s.set_id} {s.control_number} in group {g.functional_id} "
                    f"{g.control_number}: that group (message {grp.message_id}) holds no such set"
                )
                continue
            answered.add(t.set_row_id)
            v = self._verdict(verdicts, t.message_id, g)
            v.set_codes[t.set_row_id] = "A" if s.code == "A" else ("E" if s.code == "E" else "R")
            if s.code == "A" and not s.segments and not s.context:
                accepted[t.message_id] = accepted.get(t.message_id, 0) + 1
                continue
            self._name(s, t)
            v.detail["lines"] += s.lines()
            v.detail.setdefault("sets", []).append(s.to_dict())
        rest = [t for t in sent if t.set_row_id not in answered]
        if rest and g.code:
            # no AK2 for these sets: the AK9 speaks for them (A/E: accepted; R: the whole group was refused)
            code = {"A": "A", "E": "E"}.get(g.code, "R" if g.code == "R" or not g.sets else "")
            for t in rest:
                v = self._verdict(verdicts, t.message_id, g)
                if code:
                    v.set_codes[t.set_row_id] = code
        head = g.lines()
        group = {k: val for k, val in g.to_dict().items() if k != "sets"}
        for mid in {t.message_id for t in sent}:
            found = verdicts.get((mid, g.kind))
            if found is None:
                continue
            fine = [f"{accepted[mid]} sets accepted"] if accepted.get(mid) else []
            found.detail["lines"] = head + fine + found.detail["lines"]
            found.detail["group"] = group

    @staticmethod
    def _verdict(verdicts: dict[tuple[int, str], Verdict], message_id: int, g: GroupOutcome) -> Verdict:
        v = verdicts.setdefault((message_id, g.kind), Verdict(message_id, g.kind, g.code or "R"))
        v.detail.setdefault("lines", [])
        return v

    @staticmethod
    def _name(s: SetOutcome, t: SentSet) -> None:
        for seg in s.segments:
            for e in seg.elements:
                if e.position and seg.segment_id != "?":
                    e.canonical_field = canonical_field(t.set_id, t.group_version, seg.segment_id, e.position)
