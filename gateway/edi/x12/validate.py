"""Transaction set validation against a specification: structure (loops, order, requirement, maximum use),
elements (see :mod:`.elements`), the HL hierarchy, and partner rules. Streaming: one segment at a time, state
proportional to loop depth (plus the HL ids of the current set).

Structure checking is a pushdown automaton compiled lazily from the specification. A state is the stack of
``(loop, position)`` frames; for each ``(state, segment id)`` the transition is computed once and cached: which
frames to leave, which mandatory segments were skipped (those are static: positions only move forward inside a
loop iteration) and the next state. At run time only the use counts are dynamic (maximum use of a segment,
maximum repeat of a loop).

Usage (by the envelope analyser, which owns ST/SE counting)::

    validator = TransactionValidator(spec, report, rules=set_rules, delimiters=d)
    validator.segment(elements, text, position)   # every segment after ST, SE included
    validator.finish(complete=True)                 # after SE (complete=False if SE is missing)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.elements import SegmentChecker
from gateway.edi.x12.rules import SetRules
from gateway.edi.x12.specs import StructureNode, TransactionSpec

#: report(code, message, position, segment_id, element, component, repetition, loop, element_ref, bad_value)
Report = Callable[..., None]

_CONTROL = frozenset(("SE", "ST", "GE", "GS", "IEA", "ISA"))
_CLEAN_LIMIT = 1024  # segment texts remembered per state (bench/x12_read.py)


@dataclass(slots=True, eq=False)
class _Transition:
    pops: int
    kind: str  # "repeat" | "advance" | "enter" | "loop_repeat"
    missing: tuple[tuple[str, str], ...]  # (segment id, loop path) of skipped mandatory segments
    node: StructureNode  # the matched segment or loop entry
    target: _State


#: fast path operations (literals in :meth:`TransactionValidator.run`): 0 advance (no loop left), 1 advance after
#: leaving loops, 2 enter a loop, 3 repeat a segment, 4 repeat a loop; from 3 on the use count is checked
_OPS = {"advance": 1, "enter": 2, "repeat": 3, "loop_repeat": 4}



class _State:
    __slots__ = ("fast", "frames", "loop_path", "memo", "trans")

    def __init__(self, frames: tuple[tuple[StructureNode, int], ...]) -> None:
        self.frames = frames
        self.trans: dict[str, _Transition | None] = {}
        #: the fast path's view of ``trans``: segment id -> (operation, pops, maximum use, the target's ``fast``
        #: and ``memo``), only for transitions that report nothing by themselves (no mandatory segment skipped;
        #: not a control segment); the fast path follows these dicts and finds its state back with
        #: ``_Automaton.of_fast``
        self.fast: dict[str, tuple[int, int, int, dict[str, Any], dict[str, Any]]] = {}
        #: segment texts met in this state that take a ``fast`` transition and pass their element checks: text ->
        #: (operation, pops, maximum use, the target's ``memo`` and ``fast``, segment id, an HL's elements (read
        #: only) or None); bounded (cleared when full), per state so that texts that never repeat (a new PO number
        #: in every set) push out only their own
        self.memo: dict[str, tuple[int, int, int, dict[str, Any], dict[str, Any], str, list[str] | None]] = {}
        top, p = frames[-1]
        entry = top.children[p]
        self.loop_path = top.path if entry.kind == "segment" else entry.path


def _mandatory_ids(node: StructureNode) -> list[tuple[str, str]]:
    if node.kind == "segment":
        return [(node.id, node.path)] if node.mandatory else []
    return [(node.first, node.path)] if node.mandatory else []


class _Automaton:
    """States and transitions of one specification, shared by all its validators."""

    def __init__(self, spec: TransactionSpec) -> None:
        self.spec = spec
        self._states: dict[tuple[tuple[int, int], ...], _State] = {}
        self.of_fast: dict[int, _State] = {}  # id(state.fast) -> state (the states live as long as this)
        self.start = self._state(((spec.root, 0),))
        self.structure_ids: set[str] = set()
        self._collect(spec.root)

    def _collect(self, node: StructureNode) -> None:
        for child in node.children:
            if child.kind == "segment":
                self.structure_ids.add(child.id)
            else:
                self._collect(child)

    def _state(self, frames: tuple[tuple[StructureNode, int], ...]) -> _State:
        key = tuple((id(n), p) for n, p in frames)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _State(frames)
            self.of_fast[id(state.fast)] = state
        return state

    def transition(self, state: _State, seg_id: str) -> _Transition | None:
        frames = list(state.frames)
        missing: list[tuple[str, str]] = []
        for depth in range(len(frames) - 1, -1, -1):
            loop, p = frames[depth]
            entries = loop.children
            start = p
            if depth > 0 and p == 0:
                start = 1  # a loop's trigger segment starts a new iteration (matched in the parent)
            for k in range(start, len(entries)):
                e = entries[k]
                if e.first != seg_id:
                    continue
                between = [m for j in range(p + 1, k) for m in _mandatory_ids(entries[j])]
                if k == p:
                    kind = "repeat" if e.kind == "segment" else "loop_repeat"
                else:
                    kind = "advance" if e.kind == "segment" else "enter"
                new_frames = (*frames[:depth], (loop, k))
                if e.kind == "loop":
                    new_frames = (*new_frames, (e, 0))
                return _Transition(len(frames) - 1 - depth, kind, (*missing, *between), e, self._state(new_frames))
            for j in range(p + 1, len(entries)):
                missing.extend(_mandatory_ids(entries[j]))
        return None


def automaton(spec: TransactionSpec, shared: dict[str, Any]) -> _Automaton:
    """The automaton of ``spec`` kept in ``shared``: the process-wide dict of the validators that use the same
    checkers and delimiters (:func:`gateway.edi.x12.compiled.clean_for`), since its states' memos of clean
    segment texts depend on both."""
    a = shared.get(spec.key)
    if a is None or a.spec is not spec:
        a = shared[spec.key] = _Automaton(spec)
    assert isinstance(a, _Automaton)
    return a


class TransactionValidator:
    """Validates one transaction set, segment by segment (see the module docstring)."""

    def __init__(
        self,
        spec: TransactionSpec,
        report: Report,
        *,
        rules: SetRules | None = None,
        delimiters: Delimiters | None = None,
        checkers: dict[str, SegmentChecker] | None = None,
        tolerant: bool = False,
        clean: dict[str, Any] | None = None,
    ) -> None:
        self.tolerant = tolerant
        self.spec = spec
        self.report = report
        self.rules = rules
        #: the automaton, whose states remember the segment texts known to pass their element checks: shared
        #: (through ``clean``) by the validators that use the same checkers and delimiters
        self.automaton = automaton(spec, clean if clean is not None else {})
        self.state = self.automaton.start
        self.counts = [1]
        d = delimiters or Delimiters()
        self.component = d.component
        self.repetition = d.repetition
        self.element = d.element
        self.checkers = checkers if checkers is not None else {}
        self.position = 1
        self.hl: _Hierarchy | None = _Hierarchy(report) if spec.hierarchical else None
        self.seen: set[tuple[str, str]] | None = set() if rules and rules.must_use else None
        self.partner_severity = rules.severity if rules else "error"

    def restart(self) -> TransactionValidator:
        """Ready to validate the next transaction set of the same kind (as if new; cheaper than a new one)."""
        self.state = self.automaton.start
        self.counts = [1]
        self.position = 1
        if self.hl is not None:
            self.hl = _Hierarchy(self.report)
        if self.seen is not None:
            self.seen = set()
        return self

    def checker(self, seg_id: str) -> SegmentChecker | None:
        chk = self.checkers.get(seg_id)
        if chk is None:
            definition = self.spec.segments.get(seg_id)
            if definition is None:
                return None
            chk = self.checkers[seg_id] = SegmentChecker(definition, self.rules, self.tolerant)
        return chk

    def segment(self, els: list[str], text: str, position: int) -> None:
        seg_id = els[0]
        self.position = position
        state = self.state
        tr = state.trans.get(seg_id, False)
        if tr is False:
            tr = state.trans[seg_id] = self.automaton.transition(state, seg_id)
            if tr is not None and not tr.missing and seg_id not in _CONTROL:
                op = _OPS[tr.kind]
                state.fast[seg_id] = (op - 1 if op == 1 and not tr.pops else op, tr.pops, tr.node.max,
                                      tr.target.fast, tr.target.memo)
        if tr is None:
            self._unexpected(seg_id, els, text, position)
            return
        assert tr is not True
        counts = self.counts
        if tr.pops:
            del counts[-tr.pops:]
        kind = tr.kind
        if kind == "advance":  # the most frequent case first
            counts[-1] = 1
        elif kind == "repeat":
            counts[-1] += 1
            if counts[-1] > tr.node.max:
                self.report("segment_max_use", f"{seg_id} occurs more than {tr.node.max} times",
                            position, seg_id, loop=tr.target.loop_path)
        elif kind == "enter":
            counts[-1] = 1
            counts.append(1)
        else:  # loop_repeat
            counts[-1] += 1
            if counts[-1] > tr.node.max:
                self.report("loop_max_exceeded", f"loop {tr.node.id} occurs more than {tr.node.max} times",
                            position, seg_id, loop=tr.node.path)
            counts.append(1)
        if tr.missing:
            for missing_id, loop in tr.missing:
                self.report("segment_missing", f"mandatory segment {missing_id} is missing before {seg_id}",
                            position, missing_id, loop=loop)
        target = self.state = tr.target
        if seg_id == "SE":
            return
        chk = self.checkers.get(seg_id) or self.checker(seg_id)
        if chk is not None and not chk.fast(els, text, self.component, self.repetition):
            chk.check(els, text, self.component, self.repetition, self._emitter(position, seg_id, target.loop_path))
        if not els[-1] and len(els) > 1:
            self.report("trailing_separator", f"{seg_id} ends with an element separator (empty trailing "
                        "element)", position, seg_id, loop=target.loop_path)
        if self.hl is not None and seg_id == "HL":
            self.hl.segment(els, position)
        if self.seen is not None:
            self.seen.add((target.loop_path.rsplit("/", 1)[-1], seg_id))
            self.seen.add(("", seg_id))

    def run(self, batch: list[Any], i: int, position: int) -> int:
        """The fast path of :meth:`segment` over ``batch[i:]`` (``position`` is the set position of ``batch[i]``):
        handles segments that need no report (a known transition, no use limit reached, element checks clean)
        and returns the index of the first item it leaves to the caller (a control segment, an event, or a
        segment that needs :meth:`segment`). Reports nothing, so the caller's counters can catch up afterwards.
        """
        n = len(batch)
        start = i
        checkers = self.checkers
        element, component, repetition = self.element, self.component, self.repetition
        counts = self.counts
        fast = self.state.fast
        memo = self.state.memo
        hl = self.hl
        hl_ids = hl.ids if hl is not None else {}
        seen = self.seen
        limit = _CLEAN_LIMIT
        for i in range(start, n):
            text = batch[i]
            hit = memo.get(text)  # a ReaderEvent is hashable and never in a memo
            if hit is not None:
                op, pops, most, memo_next, fast_next, seg_id, els = hit  # els: an HL's elements, else None
                if op >= 3 and counts[-1 - pops] >= most:
                    break
            else:
                if type(text) is not str:
                    break
                els = text.split(element)
                seg_id = els[0]
                entry = fast.get(seg_id)
                if entry is None or not els[-1]:
                    break  # unknown yet, unexpected here, skips mandatory segments, a control segment: the full path
                op, pops, most, fast_next, memo_next = entry
                if op >= 3 and counts[-1 - pops] >= most:
                    break
                chk = checkers.get(seg_id) or self.checker(seg_id)
                if chk is not None:
                    if not chk.fast(els, text, component, repetition):
                        break
                    if len(memo) >= limit:
                        memo.clear()
                    memo[text] = (op, pops, most, memo_next, fast_next, seg_id, els if seg_id == "HL" else None)
            if seg_id == "HL" and hl is not None:  # the last check: Hierarchy.take() inlined (one HL in three)
                if els is None:
                    els = text.split(element)
                k = len(els)
                hl_id = els[1] if k > 1 else ""
                parent = els[2] if k > 2 else ""
                if hl_id in hl_ids:
                    break
                if parent:
                    if parent == hl_id or parent not in hl_ids:
                        break
                    hl.has_children.add(parent)
                elif not hl.first:
                    break
                if hl_id:
                    hl_ids[hl_id] = position + i - start
                if k > 4 and els[4]:
                    hl.says_children[hl_id] = (els[4], position + i - start)
                hl.first = False
            if op == 0:  # advance, the most frequent
                counts[-1] = 1
            else:
                if pops:
                    del counts[-pops:]
                if op == 1:
                    counts[-1] = 1
                elif op == 2:
                    counts[-1] = 1
                    counts.append(1)
                elif op == 3:
                    counts[-1] += 1
                else:
                    counts[-1] += 1
                    counts.append(1)
            fast = fast_next
            memo = memo_next
            if seen is not None:
                seen.add((self.automaton.of_fast[id(fast)].loop_path.rsplit("/", 1)[-1], seg_id))
                seen.add(("", seg_id))
        else:
            i = n
        self.state = self.automaton.of_fast[id(fast)]
        if i > start:
            self.position = position + i - start - 1
        return i

    def _emitter(self, position: int, seg_id: str, loop: str) -> Callable[..., None]:
        report = self.report

        def emit(code: str, element: int, component: int | None, repetition: int | None,
                 ref: str | None, value: str | None) -> None:
            severity = self.partner_severity if code.startswith("partner_") else None
            report(code, _element_message(code, seg_id, element, component, value), position, seg_id,
                   element=element, component=component, repetition=repetition, loop=loop, element_ref=ref,
                   bad_value=value, severity=severity)
        return emit

    def _unexpected(self, seg_id: str, els: list[str], text: str, position: int) -> None:
        loop = self.state.loop_path
        if not (2 <= len(seg_id) <= 3 and seg_id.isalnum() and seg_id.isupper() and seg_id.isascii()):
            self.report("segment_unrecognized", f"{seg_id[:20]!r} is not a segment id", position, seg_id,
                        loop=loop)
            return
        if seg_id in self.automaton.structure_ids:
            self.report("segment_out_of_order", f"{seg_id} is not allowed here (after {self._previous()})",
                        position, seg_id, loop=loop)
            chk = self.checker(seg_id)
            if chk is not None:
                chk.check(els, text, self.component, self.repetition, self._emitter(position, seg_id, loop))
        elif seg_id in self.spec.known_segments:
            self.report("segment_not_in_set", f"{seg_id} is not part of transaction set {self.spec.id}",
                        position, seg_id, loop=loop)
        else:
            self.report("segment_unrecognized", f"{seg_id} is not an X12 {self.spec.version} segment",
                        position, seg_id, loop=loop)

    def _previous(self) -> str:
        top, p = self.state.frames[-1]
        return top.children[p].first

    def finish(self, complete: bool) -> None:
        if self.hl is not None:
            self.hl.finish(self.position)
        if self.seen is not None and self.rules is not None:
            for loop, seg_id in self.rules.must_use:
                if (loop or "", seg_id) not in self.seen:
                    where = f" in loop {loop}" if loop else ""
                    self.report("partner_must_use", f"{seg_id}{where} is required by the partner's rules",
                                self.position, seg_id, loop=loop, severity=self.partner_severity)


def _element_message(code: str, seg_id: str, element: int, component: int | None, value: str | None) -> str:
    name = f"{seg_id}{element:02d}" + (f"-{component}" if component else "")
    shown = f" {value[:40]!r}" if value is not None else ""
    return {
        "element_missing": f"{name} is mandatory and missing",
        "element_conditional_missing": f"{name} is required by the segment's syntax notes",
        "element_too_many": f"{seg_id} has more elements than defined (from {name}{shown})",
        "element_too_short": f"{name}{shown} is too short",
        "element_too_long": f"{name}{shown} is too long",
        "element_invalid_character": f"{name}{shown} has invalid characters for its type",
        "element_invalid_code": f"{name}{shown} is not a valid code",
        "element_invalid_date": f"{name}{shown} is not a valid date",
        "element_invalid_time": f"{name}{shown} is not a valid time",
        "element_exclusion": f"{name}{shown} may not be used together with another element of the syntax note",
        "element_too_many_repetitions": f"{name} is repeated more often than allowed",
        "element_too_many_components": f"{name}{shown} has more components than defined",
        "element_trailing_spaces": f"{name}{shown} has trailing spaces",
        "partner_code_restricted": f"{name}{shown} is not one of the codes the partner's rules allow",
        "partner_element_required": f"{name} is required by the partner's rules",
    }.get(code, f"{name}: {code}")


class _Hierarchy:
    """HL consistency: unique ids, parents defined before their children, HL04 child codes that match."""

    __slots__ = ("first", "has_children", "ids", "report", "says_children")

    def __init__(self, report: Report) -> None:
        self.report = report
        self.ids: dict[str, int] = {}  # HL01 -> position
        self.has_children: set[str] = set()
        self.says_children: dict[str, tuple[str, int]] = {}  # HL01 -> (HL04, position)
        self.first = True

    def segment(self, els: list[str], position: int) -> None:
        n = len(els)
        hl_id = els[1] if n > 1 else ""
        parent = els[2] if n > 2 else ""
        child_code = els[4] if n > 4 else ""
        report = self.report
        if hl_id:
            if hl_id in self.ids:
                report("hl_invalid", f"HL01 {hl_id!r} is used twice (first at segment {self.ids[hl_id]})",
                       position, "HL", element=1, element_ref="628", bad_value=hl_id, loop="HL")
            else:
                self.ids[hl_id] = position
        if parent:
            if parent == hl_id:
                report("hl_invalid", f"HL02 {parent!r} names the HL itself as its parent", position, "HL",
                       element=2, element_ref="734", bad_value=parent, loop="HL")
            elif parent not in self.ids:
                report("hl_invalid", f"HL02 {parent!r} names a parent that does not precede it", position, "HL",
                       element=2, element_ref="734", bad_value=parent, loop="HL")
            else:
                self.has_children.add(parent)
        elif not self.first:
            report("hl_parent_missing", f"HL {hl_id!r} has no parent id (HL02): its place in the hierarchy "
                   "is implied by order only", position, "HL", element=2, loop="HL")
        if child_code:
            self.says_children[hl_id] = (child_code, position)
        self.first = False

    def finish(self, position: int) -> None:
        for hl_id, (code, pos) in self.says_children.items():
            if code == "1" and hl_id not in self.has_children:
                self.report("hl_invalid", f"HL {hl_id!r} says it has children (HL04=1) but none names it as parent",
                            pos, "HL", element=4, element_ref="736", bad_value=code, loop="HL")
            elif code == "0" and hl_id in self.has_children:
                self.report("hl_invalid", f"HL {hl_id!r} says it has no children (HL04=0) but has some",
                            pos, "HL", element=4, element_ref="736", bad_value=code, loop="HL")
