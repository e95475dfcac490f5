"""Element access compiled from paths, shared by the mapping compiler's closures (:mod:`.compiler`, :mod:`.leaf`):
the segment a path names in a scope, the element or component it reads, qualifier conditions, and the small helpers
the closures share (a field's dotted name, the engine's notion of an empty value, climbing to enclosing scopes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.edi.x12.segment import Segment
from gateway.mapping.paths import Path
from gateway.mapping.structure import Scope

if TYPE_CHECKING:
    from gateway.mapping.engine import Inbound

NodeFn = Callable[["Inbound", Scope, str, "str | None"], Any]
GroupFn = Callable[["Inbound", Scope, str], dict[str, Any]]
Finder = Callable[[Scope], "Segment | None"]
Getter = Callable[[Segment], str]


def where_of(base: str, name: str | None) -> str:
    """A field's dotted name from its enclosing group's name and its own (``None``: ``base`` is the name)."""
    if name is None:
        return base
    return f"{base}.{name}" if base else name


def empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def climb(scope: Scope, up: int) -> Scope:
    for _ in range(up):
        if scope.parent is not None:
            scope = scope.parent
    return scope


def raiser(build: Callable[[], Any]) -> Callable[..., Any]:
    """A closure that raises what ``build`` raises (built again at each call: a fresh exception each time)."""

    def fail(*_args: Any) -> Any:
        build()
        raise AssertionError("unreachable: the build raised before")  # pragma: no cover

    return fail


def problem(message: str, field: str, segment: Segment | None, element: int | None) -> Any:
    from gateway.mapping.engine import Problem

    return Problem(message, field, segment, element)


# ---------------------------------------------------------------------------------------------------- paths
def passes_fn(path: Path) -> Callable[[Segment], bool] | None:
    """The qualifier conditions of ``path`` as one function (``None`` without conditions)."""
    filters = path.filters
    if not filters:
        return None
    if len(filters) == 1:
        (pos, values), = filters
        if pos <= 0:
            ok = "" in values
            return lambda seg: ok
        def one(seg: Segment) -> bool:
            els = seg.elements
            return (els[pos].strip() if pos < len(els) else "") in values
        return one
    return path.passes


def finder(path: Path) -> Finder:
    """The first segment of the scope (``up`` levels above) that ``path`` names and whose qualifiers match."""
    up, seg_id = path.up, path.segment
    passes = passes_fn(path)
    if passes is None:
        if up == 0:
            def first(scope: Scope) -> Segment | None:
                idx = scope._index
                if idx is None:
                    idx = scope.ids()
                found = idx.get(seg_id)
                return found[0] if found else None
            return first

        def first_up(scope: Scope) -> Segment | None:
            found = climb(scope, up).by_id(seg_id)
            return found[0] if found else None
        return first_up

    def matching(scope: Scope) -> Segment | None:
        if up:
            scope = climb(scope, up)
        idx = scope._index
        if idx is None:
            idx = scope.ids()
        for seg in idx.get(seg_id, ()):
            if passes(seg):
                return seg
        return None
    return matching


def getter(path: Path) -> Getter:
    """The element (or component) ``path`` names, stripped; ``""`` when absent."""
    pos, comp = path.element, path.component
    if comp is not None:
        def component(seg: Segment) -> str:
            comps = seg.components(pos)
            return comps[comp - 1].strip() if len(comps) >= comp else ""
        return component
    if pos <= 0:
        return lambda seg: ""

    def element(seg: Segment) -> str:
        els = seg.elements
        return els[pos].strip() if pos < len(els) else ""
    return element


def reader(path: Path) -> Callable[[Scope], tuple[str, Segment | None]]:
    find, get = finder(path), getter(path)

    def read(scope: Scope) -> tuple[str, Segment | None]:
        seg = find(scope)
        return (get(seg), seg) if seg is not None else ("", None)
    return read
