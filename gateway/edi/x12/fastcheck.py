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

FastCheck = Callable[[list[str], str, "str | None", "str | None"], bool]


def _present(pos: int) -> str:
    return f"(n >= {pos} and els[{pos}] != '')"


def _syntax(note: str) -> tuple[int, str] | None:
    """``(n, condition)``: a Python condition that is true when the note is violated, and the number of elements
    ``n`` below which it cannot be (0: always evaluate); ``None`` for an unknown note kind."""
    kind = note[0]
    positions = [int(note[i:i + 2]) for i in range(1, len(note), 2)]
    present = [_present(p) for p in positions]
    if kind == "P":
        return min(positions), f"0 < ({' + '.join(present)}) < {len(positions)}"
    if kind == "R":
        return 0, f"not ({' or '.join(present)})"
    if kind == "E":
        return sorted(positions)[1], f"({' + '.join(present)}) > 1"
    if kind == "C":
        return positions[0], f"{present[0]} and not ({' and '.join(present[1:])})"
    if kind == "L":
        return positions[0], f"{present[0]} and not ({' or '.join(present[1:])})"
    return None


def _simple(pos: int, d: ElementDef, checker: Checker, partner: bool, ns: dict[str, Any]) -> str:
    """A condition that is true when the (non-empty) value ``v`` might not be clean."""
    ns[f"K{pos}"] = checker
    call = f"K{pos}(v) is not None"
    if partner:
        return call
    lo, hi = d.min, d.max
    if d.kind == "ID" and d.codes:
        ns[f"C{pos}"] = d.codes
        return f"v not in C{pos}"
    if d.kind == "AN":
        return f"not ({lo} <= len(v) <= {hi}) or v[-1] == ' '"
    if d.kind in ("ID", "B"):
        return f"not ({lo} <= len(v) <= {hi})"
    if d.kind.startswith("R"):  # also a plain decimal fraction (digits counted without the point) inline
        return (f"not (v.isdigit() and v.isascii() and {lo} <= len(v) <= {hi}) and not (v.count('.') == 1 and "
                f"(w := v.replace('.', '')).isdigit() and w.isascii() and {lo} <= len(w) <= {hi}) and {call}")
    if d.kind.startswith("N"):
        return f"not (v.isdigit() and v.isascii() and {lo} <= len(v) <= {hi}) and {call}"
    if d.kind == "DT" and lo <= 8 <= hi:  # CCYYMMDD with a day up to 28 is a date in every month
        return ("not (len(v) == 8 and v.isdigit() and v.isascii() and '01' <= v[4:6] <= '12' and "
                f"'01' <= v[6:] <= '28') and {call}")
    if d.kind == "TM" and lo <= 4 <= hi:  # HHMM
        return f"not (len(v) == 4 and v.isdigit() and v.isascii() and v[:2] <= '23' and v[2:] <= '59') and {call}"
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
    lines = [
        "def fast(els, text, comp, rep):",
        "    n = len(els) - 1",
        f"    if n > {len(definition.elements)}: return False",
        "    if (comp is not None and comp in text) or (rep is not None and rep in text): return False",
    ]
    for pos, _code in mandatory:
        lines.append(f"    if n < {pos} or not els[{pos}]: return False")
    notes = []
    for note in definition.syntax:
        compiled = _syntax(note)
        if compiled is None:
            return None
        notes.append(compiled)
    indent = "    "
    for threshold, cond in sorted(notes):  # nested by threshold: a short segment skips the notes it cannot break
        if threshold:
            lines.append(f"{indent}if n >= {threshold}:")
            indent += "    "
        lines.append(f"{indent}if {cond}: return False")
    checks: list[tuple[int, str]] = []
    uses = {use.position: use.definition for use in definition.elements}
    for pos, checker in simple:
        d = uses[pos]
        assert isinstance(d, ElementDef)
        checks.append((pos, _simple(pos, d, checker, pos in partner_positions, ns)))
    for pos, comp, checkers in composites:
        if any(mandatory_component for _, mandatory_component in comp.components[1:]):
            checks.append((pos, "True"))  # a lone first component leaves a mandatory one missing: full check
        else:
            ns[f"K{pos}"] = checkers[0]
            checks.append((pos, f"K{pos}(v) is not None"))
    for pos, cond in sorted(checks):
        lines.append(f"    if n < {pos}: return True")
        lines.append(f"    v = els[{pos}]")
        lines.append(f"    if v and ({cond}): return False")
    lines.append("    return True")
    exec(compile("\n".join(lines), f"<fast check {definition.id}>", "exec"), ns)  # noqa: S102 - see docstring
    fast: FastCheck = ns["fast"]
    return fast
