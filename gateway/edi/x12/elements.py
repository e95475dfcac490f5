"""Segment-level checks compiled from a :class:`~gateway.edi.x12.specs.SegmentDef`: element count, requirement,
type, length, code values, composites, repetitions and syntax notes (X12.6 relational conditions).

A :class:`SegmentChecker` is built once per (segment definition, partner rules) and then called for every
occurrence of the segment. It calls ``emit(code, position, component, repetition, ref, value)`` for each problem,
where ``code`` is an issue code of :mod:`gateway.edi.x12.issues` and positions are 1-based.

Syntax notes (``P0102``: paired, ``R0203``: at least one required, ``E0103``: only one may be present, ``C0605``:
if the first then all others, ``L010203``: if the first then at least one other) produce
``element_conditional_missing`` (AK4 code 2) or ``element_exclusion`` (AK4 code 10).
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.edi.x12.datatypes import Checker, make_checker
from gateway.edi.x12.fastcheck import FastCheck, compile_fast_check
from gateway.edi.x12.rules import SetRules
from gateway.edi.x12.specs import CompositeDef, ElementDef, SegmentDef

Emit = Callable[[str, int, "int | None", "int | None", "str | None", "str | None"], None]
SyntaxCheck = Callable[[list[str], int, Emit, SegmentDef], None]

TRAILING = "element_trailing_spaces"


def _element_checker(definition: ElementDef, allowed: frozenset[str] | None = None) -> Checker:
    base = make_checker(definition.kind, definition.min, definition.max, definition.codes)
    if definition.kind == "AN":
        def check_an(v: str) -> str | None:
            code = base(v)
            if code is None and v[-1] == " ":
                return TRAILING
            return code
        checker: Checker = check_an
    else:
        checker = base
    if allowed is None:
        return checker

    def check_partner(v: str) -> str | None:
        code = checker(v)
        if code is None and v not in allowed:
            return "partner_code_restricted"
        return code
    return check_partner


def _present(els: list[str], n: int, pos: int) -> bool:
    return pos <= n and els[pos] != ""


def _ref(sdef: SegmentDef, pos: int) -> str | None:
    if 0 < pos <= len(sdef.elements):
        return sdef.elements[pos - 1].definition.ref
    return None


def _syntax(note: str) -> SyntaxCheck:
    kind = note[0]
    positions = [int(note[i:i + 2]) for i in range(1, len(note), 2)]
    first, others = positions[0], positions[1:]
    missing = "element_conditional_missing"

    if kind == "P":
        def paired(els: list[str], n: int, emit: Emit, sdef: SegmentDef) -> None:
            present = [p for p in positions if _present(els, n, p)]
            if present and len(present) != len(positions):
                for p in positions:
                    if p not in present:
                        emit(missing, p, None, None, _ref(sdef, p), None)
        return paired
    if kind == "R":
        def required(els: list[str], n: int, emit: Emit, sdef: SegmentDef) -> None:
            if not any(_present(els, n, p) for p in positions):
                emit(missing, first, None, None, _ref(sdef, first), None)
        return required
    if kind == "E":
        def exclusive(els: list[str], n: int, emit: Emit, sdef: SegmentDef) -> None:
            present = [p for p in positions if _present(els, n, p)]
            if len(present) > 1:
                emit("element_exclusion", present[1], None, None, _ref(sdef, present[1]), els[present[1]])
        return exclusive
    if kind == "C":
        def conditional(els: list[str], n: int, emit: Emit, sdef: SegmentDef) -> None:
            if _present(els, n, first):
                for p in others:
                    if not _present(els, n, p):
                        emit(missing, p, None, None, _ref(sdef, p), None)
        return conditional
    if kind == "L":
        def list_conditional(els: list[str], n: int, emit: Emit, sdef: SegmentDef) -> None:
            if _present(els, n, first) and not any(_present(els, n, p) for p in others):
                emit(missing, others[0], None, None, _ref(sdef, others[0]), None)
        return list_conditional
    raise ValueError(f"unknown syntax note {note!r}")


def _never_clean(els: list[str], text: str, component: str | None, repetition: str | None) -> bool:
    return False


class SegmentChecker:
    """Element checks of one segment definition (see the module docstring)."""

    __slots__ = (
        "composites", "definition", "fast", "id", "mandatory", "max_elements", "repeats", "simple", "syntax",
        "tolerant",
    )

    def __init__(self, definition: SegmentDef, rules: SetRules | None = None, tolerant: bool = False) -> None:
        self.definition = definition
        self.tolerant = tolerant
        self.id = definition.id
        self.max_elements = len(definition.elements)
        required_by_partner = set()
        allowed: dict[int, frozenset[str]] = {}
        if rules is not None:
            required_by_partner = {pos for seg, pos in rules.required_elements if seg == definition.id}
            allowed = {pos: codes for (seg, pos), codes in rules.codes.items() if seg == definition.id}
        simple: list[tuple[int, Checker]] = []
        composites: list[tuple[int, CompositeDef, list[Checker]]] = []
        mandatory: list[tuple[int, str]] = []
        repeats: dict[int, int] = {}
        for use in definition.elements:
            pos = use.position
            if use.mandatory:
                mandatory.append((pos, "element_missing"))
            elif pos in required_by_partner:
                mandatory.append((pos, "partner_element_required"))
            if use.repeat > 1:
                repeats[pos] = use.repeat
            d = use.definition
            if isinstance(d, CompositeDef):
                composites.append((pos, d, [_element_checker(c) for c, _ in d.components]))
            else:
                simple.append((pos, _element_checker(d, allowed.get(pos))))
        self.simple = tuple(simple)
        self.composites = tuple(composites)
        self.mandatory = tuple(mandatory)
        self.repeats = repeats
        self.syntax = tuple(_syntax(note) for note in definition.syntax)
        #: ``fast(els, text, component, repetition) -> bool``: true only when :meth:`check` would report nothing
        self.fast: FastCheck = compile_fast_check(
            definition, self.simple, self.composites, self.mandatory, set(allowed)
        ) or _never_clean

    def check(self, els: list[str], text: str, component: str | None, repetition: str | None, emit: Emit) -> None:
        n = len(els) - 1
        definition = self.definition
        if n > self.max_elements:
            extra = [p for p in range(self.max_elements + 1, n + 1) if els[p]]
            if extra:
                emit("element_too_many", extra[0], None, None, None, els[extra[0]])
        special = (component is not None and component in text) or (repetition is not None and repetition in text)
        if special:
            self._check_special(els, n, component, repetition, emit)
        else:
            for pos, chk in self.simple:
                if pos > n:
                    break
                v = els[pos]
                if v:
                    code = chk(v)
                    if code is not None:
                        emit(code, pos, None, None, _ref(definition, pos), v)
            for pos, comp, checkers in self.composites:
                if pos <= n and els[pos]:
                    self._check_composite(pos, [els[pos]], comp, checkers, None, emit)
        for pos, code in self.mandatory:
            if pos > n or not els[pos]:
                emit(code, pos, None, None, _ref(definition, pos), None)
        if self.syntax:
            seen: set[tuple[str, int]] = set()

            def once(code: str, pos: int, comp: int | None, rep: int | None, ref: str | None,
                     value: str | None) -> None:
                if (code, pos) not in seen:
                    seen.add((code, pos))
                    emit(code, pos, comp, rep, ref, value)

            for rule in self.syntax:
                rule(els, n, once, definition)

    def _check_composite(
        self, pos: int, parts: list[str], comp: CompositeDef, checkers: list[Checker], rep: int | None, emit: Emit
    ) -> None:
        if len(parts) > len(checkers) and any(parts[len(checkers):]):
            emit("element_too_many_components", pos, len(checkers) + 1, rep, comp.ref, parts[len(checkers)])
        for k, (chk, (edef, mandatory)) in enumerate(zip(checkers, comp.components, strict=True), start=1):
            v = parts[k - 1] if k <= len(parts) else ""
            if v:
                code = chk(v)
                if code is not None:
                    emit(code, pos, k, rep, edef.ref, v)
            elif mandatory:
                emit("element_missing", pos, k, rep, edef.ref, None)

    def _check_special(
        self, els: list[str], n: int, component: str | None, repetition: str | None, emit: Emit
    ) -> None:
        """Elements that contain component or repetition separators."""
        definition = self.definition
        simple = dict(self.simple)
        composites = {pos: (comp, checkers) for pos, comp, checkers in self.composites}
        for pos in range(1, min(n, self.max_elements) + 1):
            v = els[pos]
            if not v:
                continue
            values = [v]
            if repetition is not None and repetition in v:
                limit = self.repeats.get(pos, 1)
                if limit == 1:
                    emit("repetition_in_simple_element", pos, None, None, _ref(definition, pos), v)
                    if not self.tolerant:
                        values = v.split(repetition)[:1]
                else:
                    values = v.split(repetition)
                    if len(values) > limit:
                        emit("element_too_many_repetitions", pos, None, limit + 1, _ref(definition, pos), v)
                        values = values[:limit]
            for r, value in enumerate(values, start=1):
                rep_index = r if len(values) > 1 else None
                if pos in composites:
                    comp, checkers = composites[pos]
                    parts = value.split(component) if component is not None else [value]
                    self._check_composite(pos, parts, comp, checkers, rep_index, emit)
                    continue
                if component is not None and component in value:
                    emit("component_in_simple_element", pos, None, rep_index, _ref(definition, pos), value)
                    if not self.tolerant:
                        value = value.split(component)[0]
                        if not value:
                            continue
                code = simple[pos](value)
                if code is not None:
                    emit(code, pos, None, rep_index, _ref(definition, pos), value)
