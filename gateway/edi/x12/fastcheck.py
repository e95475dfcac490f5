"""A segment's element checks compiled into one Python function that only answers "clean?".

Validation time goes almost entirely into the element checks of :class:`~gateway.edi.x12.elements.SegmentChecker`,
and almost every segment of a real file is clean. :func:`compile_fast_check` turns one segment definition (with
the partner's rules already folded into the checkers) into straight-line code: constants inlined, no loops over
element definitions, no closures, no issue objects. It returns ``True`` only when the full check would report
nothing; whenever it is unsure (a negative number, a composite with separators, extra empty elements...) it
returns ``False`` and the caller runs the full check, which is the single source of the issues reported. So the
fast path can make validation faster, never different.

The generated source is built only from the specification's integers and positions (values such as code lists
are passed as constants in the function's namespace, never pasted into the source).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gateway.edi.x12.datatypes import Checker
from gateway.edi.x12.specs import CompositeDef, ElementDef, SegmentDef

#: every MMDD of a common year (29 February is left to the full check, which knows leap years)
_MONTH_DAYS = frozenset(f"{m:02d}{d:02d}" for m, days in enumerate((31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), 1)
                        for d in range(1, days + 1))

FastCheck = Callable[[list[str], str, "str | None", "str | None"], bool]


def _note(kind: str, positions: list[int], n: int) -> str | None:
    """A Python condition, over the locals ``e1..en`` of a segment with exactly ``n`` elements, that is true when
    the syntax note is violated: ``""`` when it cannot be, ``"True"`` when it always is, ``None`` for an unknown
    note kind. Elements past ``n`` are absent."""
    here = [p for p in positions if p <= n]
    gone = len(here) < len(positions)
    present = [f"(e{p} != '')" for p in here]
    if kind == "P":
        if not here:
            return ""
        if gone:
            return " or ".join(f"e{p}" for p in here)
        if len(here) == 2:
            return f"(e{here[0]} == '') != (e{here[1]} == '')"
        return f"0 < ({' + '.join(present)}) < {len(here)}"
    if kind == "R":
        return f"not ({' or '.join(f'e{p}' for p in here)})" if here else "True"
    if kind == "E":
        return f"({' + '.join(present)}) > 1" if len(here) > 1 else ""
    if kind in ("C", "L"):
        first, others = positions[0], positions[1:]
        if first > n:
            return ""
        rest = [f"e{p}" for p in others if p <= n]
        if kind == "C":
            if len(rest) < len(others):
                return f"e{first}"
            return f"e{first} and not ({' and '.join(rest)})"
        if not rest:
            return f"e{first}"
        return f"e{first} and not ({' or '.join(rest)})"
    return None


def _simple(pos: int, d: ElementDef, checker: Checker, partner: bool, ns: dict[str, Any], v: str) -> str:
    """A condition that is true when the (non-empty) value ``v`` might not be clean."""
    ns[f"K{pos}"] = checker
    call = f"K{pos}({v}) is not None"
    if partner:
        return call
    lo, hi = d.min, d.max
    if d.kind == "ID" and d.codes:
        ns[f"C{pos}"] = d.codes
        return f"{v} not in C{pos}"
    if d.kind == "AN":
        return f"not ({lo} <= len({v}) <= {hi}) or {v}[-1] == ' '"
    if d.kind in ("ID", "B"):
        return f"not ({lo} <= len({v}) <= {hi})"
    if d.kind.startswith("R"):  # also a plain decimal fraction (digits counted without the point) inline
        return (f"not ({v}.isdigit() and {v}.isascii() and {lo} <= len({v}) <= {hi}) and not ({v}.count('.') == 1"
                f" and (w := {v}.replace('.', '')).isdigit() and w.isascii() and {lo} <= len(w) <= {hi}) and {call}")
    if d.kind.startswith("N"):
        return f"not ({v}.isdigit() and {v}.isascii() and {lo} <= len({v}) <= {hi}) and {call}"
    if d.kind == "DT" and lo <= 8 <= hi:  # CCYYMMDD: any month and day of a common year is a date in every year
        ns["MMDD"] = _MONTH_DAYS
        return f"not (len({v}) == 8 and {v}.isdigit() and {v}.isascii() and {v}[4:] in MMDD) and {call}"
    if d.kind == "TM" and lo <= 4 <= hi:  # HHMM
        return (f"not (len({v}) == 4 and {v}.isdigit() and {v}.isascii() and {v}[:2] <= '23' and {v}[2:] <= '59')"
                f" and {call}")
    return call


def compile_fast_check(
    definition: SegmentDef,
    simple: Sequence[tuple[int, Checker]],
    composites: Sequence[tuple[int, CompositeDef, list[Checker]]],
    mandatory: Sequence[tuple[int, str]],
    partner_positions: set[int],
) -> FastCheck | None:
    """The "clean?" function of one segment (see the module docstring); ``None`` if it cannot be compiled."""
    ns: dict[str, Any] = {}
    notes: list[tuple[str, list[int]]] = []
    for note in definition.syntax:
        if note[0] not in "PRECL":
            return None
        notes.append((note[0], [int(note[i:i + 2]) for i in range(1, len(note), 2)]))
    uses = {use.position: use.definition for use in definition.elements}
    checks: dict[int, str] = {}
    for pos, checker in simple:
        d = uses[pos]
        assert isinstance(d, ElementDef)
        checks[pos] = _simple(pos, d, checker, pos in partner_positions, ns, f"e{pos}")
    for pos, comp, checkers in composites:
        if any(mandatory_component for _, mandatory_component in comp.components[1:]):
            checks[pos] = "True"  # a lone first component leaves a mandatory one missing: full check
        else:
            ns[f"K{pos}"] = checkers[0]
            checks[pos] = f"K{pos}(e{pos}) is not None"
    required = sorted({pos for pos, _code in mandatory})
    lines = [
        "def fast(els, text, comp, rep):",
        "    if (comp is not None and comp in text) or (rep is not None and rep in text): return False",
        "    n = len(els) - 1",
    ]
    # one straight block per element count (the count decides which elements and notes exist): the elements
    # unpacked into locals, nothing tested twice; fewer elements than the last mandatory one: not clean
    for n in range(required[-1] if required else 0, len(definition.elements) + 1):
        conds = [f"not e{pos}" for pos in required]
        for kind, positions in notes:
            cond = _note(kind, positions, n)
            if cond:
                conds.append(cond)
        conds += [f"e{pos} and ({checks[pos]})" for pos in sorted(checks) if pos <= n]
        if "True" in conds:
            continue  # a note always violated with this many elements
        lines.append(f"    if n == {n}:")
        if n:
            lines.append("        " + ", ".join(["_", *(f"e{k}" for k in range(1, n + 1))]) + " = els")
        lines += [f"        if {cond}: return False" for cond in conds]
        lines.append("        return True")
    lines.append("    return False")
    exec(compile("\n".join(lines), f"<fast check {definition.id}>", "exec"), ns)  # noqa: S102 - see docstring
    fast: FastCheck = ns["fast"]
    return fast
