"""Group a transaction set's segments into scopes (loops), as a mapping file's ``structure`` declares them.

A structure names, for the header and for each loop, the segments it holds in order, with child loops written as
``{loop: NAME}``; a loop starts with its first segment. Grouping is by membership, not by strict order, so a
partner that sends segments out of order still maps; a segment no scope expects stays in the header scope (kept,
never dropped). ``hl: LOOPNAME`` marks the loop whose instances form an 856-style hierarchy: they are linked by
HL01/HL02, and an HL sent without a parent id is attached to the nearest preceding HL of a higher level (the
order of ``hl_levels``, e.g. S, O, T, P, I).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.edi.x12.segment import Segment


class Scope:
    """One loop instance (or the header): its own segments and its child loop instances by loop name.

    A plain class with slots and a short ``__init__`` (a transaction set builds a few dozen, and ``each`` over
    segments one per item): a dataclass's generated ``__init__`` with its default factories cost twice as much."""

    __slots__ = ("_index", "_instances", "_level", "hl_children", "hl_parent", "loops", "name", "parent", "segments")

    def __init__(self, name: str, segments: list[Segment] | None = None, loops: dict[str, list[Scope]] | None = None,
                 parent: Scope | None = None) -> None:
        self.name = name
        self.segments: list[Segment] = [] if segments is None else segments
        self.loops: dict[str, list[Scope]] = {} if loops is None else loops
        self.parent = parent
        self.hl_parent: Scope | None = None  # 856 hierarchy (HL02, or inferred)
        self.hl_children: list[Scope] = []
        self._index: dict[str, list[Segment]] | None = None  # by_id(); build_scopes fills it as it groups
        self._instances: dict[str, list[Scope]] | None = None  # instances() by loop name
        self._level: str | None = None

    def __repr__(self) -> str:
        return f"Scope({self.name!r}, {len(self.segments)} segments, loops {sorted(self.loops)})"

    @classmethod
    def item(cls, seg: Segment, parent: Scope) -> Scope:
        """A one-segment scope below ``parent`` (an item of an ``each`` over segments)."""
        segments = [seg]
        scope = cls(seg.id, segments, None, parent)
        scope._index = {seg.id: segments}
        return scope

    def by_id(self, segment_id: str) -> list[Segment]:
        """This scope's segments with that id (indexed on first use; scopes are not changed after building)."""
        return (self._index if self._index is not None else self.ids()).get(segment_id, [])

    def ids(self) -> dict[str, list[Segment]]:
        """The index of :meth:`by_id`: segment id -> this scope's segments with that id, in order."""
        index = self._index
        if index is None:
            index = {}
            for seg in self.segments:
                found = index.get(seg.id)
                if found is None:
                    index[seg.id] = [seg]
                else:
                    found.append(seg)
            self._index = index
        return index

    @property
    def first(self) -> Segment | None:
        return self.segments[0] if self.segments else None

    @property
    def position(self) -> int | None:
        return self.segments[0].position if self.segments else None

    @property
    def level(self) -> str:
        """HL03 of an HL loop instance."""
        level = self._level
        if level is None:
            level = self._level = (self.segments[0].element(3) if self.segments and self.segments[0].id == "HL"
                                   else "")
        return level

    def hl_ancestor(self, levels: tuple[str, ...] | list[str]) -> Scope | None:
        node = self.hl_parent
        while node is not None:
            if node.level in levels:
                return node
            node = node.hl_parent
        return None

    def hl_descendants(self) -> list[Scope]:
        out: list[Scope] = []
        stack = list(reversed(self.hl_children))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.hl_children))
        return out


@dataclass(frozen=True, slots=True)
class LoopDef:
    name: str
    start: str
    members: frozenset[str]
    children: dict[str, str]  # start segment id -> child loop name
    # segment id -> "" (a member) or (child loop name, its route): what build_scopes looks up, filled by
    # compile_structure
    route: dict[str, Any] = field(default_factory=dict, compare=False)


def compile_structure(structure: dict[str, list]) -> dict[str, LoopDef]:
    """``{"header": [...], "N1": [...], ...}`` -> loop definitions (``header`` has no start segment)."""
    defs: dict[str, LoopDef] = {}
    for name, items in structure.items():
        members: set[str] = set()
        children: dict[str, str] = {}
        start = ""
        for i, item in enumerate(items):
            if isinstance(item, dict):
                child = item["loop"]
                first = structure[child][0]
                children[first if isinstance(first, str) else first["loop"]] = child
            else:
                if i == 0 and name != "header":
                    start = item
                else:
                    members.add(item)
        defs[name] = LoopDef(name, start, frozenset(members), children)
    for loop_def in defs.values():
        route = loop_def.route
        for sid in loop_def.members:
            route[sid] = ""
        for sid, child in loop_def.children.items():  # a child loop's start wins over a member of the same id
            route[sid] = (child, defs[child].route)
    return defs


def build_scopes(segments: list[Segment], defs: dict[str, LoopDef]) -> Scope:
    """The header scope with its loop instances nested below it.

    Each scope's :meth:`Scope.by_id` index is filled as its segments are grouped (one pass, instead of a pass
    per scope when the mapping first reads it), and so are the header's :func:`instances` of every loop when
    the loops start at increasing segment positions (as read from a file): the order of :func:`instances` is
    then the order they were built in."""
    header = Scope("header")
    index: dict[str, list[Segment]] = {}
    header._index = index
    built: dict[str, list[Scope]] = {}  # loop name -> its instances, in the order built
    ordered = True  # loop starts at strictly increasing positions so far
    last = 0
    stack: list[tuple[dict[str, Any], Scope, dict[str, list[Segment]]]] = [(defs["header"].route, header, index)]
    for seg in segments:
        sid = seg.id
        depth = len(stack) - 1
        while depth >= 0:
            route, scope, index = stack[depth]
            target = route.get(sid)
            if target is not None:
                break
            depth -= 1
        else:
            header.segments.append(seg)
            index = stack[0][2]
            found = index.get(sid)
            if found is None:
                index[sid] = [seg]
            else:
                found.append(seg)
            del stack[1:]
            continue
        del stack[depth + 1:]
        if target == "":
            scope.segments.append(seg)
            found = index.get(sid)
            if found is None:
                index[sid] = [seg]
            else:
                found.append(seg)
            continue
        name, child_route = target
        child = Scope(name, [seg], None, scope)
        child_index = child._index = {sid: [seg]}
        siblings = scope.loops.get(name)
        if siblings is None:
            scope.loops[name] = [child]
        else:
            siblings.append(child)
        stack.append((child_route, child, child_index))
        same = built.get(name)
        if same is None:
            built[name] = [child]
        else:
            same.append(child)
        position = seg.position
        if ordered:
            if position is None or position <= last:
                ordered = False
            else:
                last = position
    if ordered:
        header._instances = built
    return header


def release(header: Scope) -> None:
    """Unlink a scope tree that is no longer needed (parent and HL links), so reference counting frees it at
    once: left to the cyclic garbage collector, the trees of a large file cost as much as mapping them."""
    stack = [header]
    while stack:
        scope = stack.pop()
        for children in scope.loops.values():
            stack.extend(children)
        scope.parent = None
        scope.hl_parent = None
        scope._instances = None


@dataclass(slots=True)
class Orphan:
    scope: Scope
    parent_id: str


def link_hierarchy(header: Scope, loop: str, levels: list[str]) -> list[Orphan]:
    """Link the instances of ``loop`` (HL) by HL02; returns HLs whose parent id names no earlier HL."""
    orphans: list[Orphan] = []
    by_id: dict[str, Scope] = {}
    seen: list[Scope] = []
    rank = {level: i for i, level in enumerate(levels)}
    for node in instances(header, loop):
        els = node.segments[0].elements
        n = len(els)
        own = els[1].strip() if n > 1 else ""
        parent_id = els[2].strip() if n > 2 else ""
        parent: Scope | None = None
        if parent_id:
            parent = by_id.get(parent_id)
            if parent is None:
                orphans.append(Orphan(node, parent_id))
        else:
            mine = rank.get(node.level, len(levels))
            for previous in reversed(seen):
                if rank.get(previous.level, len(levels)) < mine:
                    parent = previous
                    break
        if parent is not None:
            node.hl_parent = parent
            parent.hl_children.append(node)
        if own:
            by_id[own] = node
        seen.append(node)
    return orphans


def _instances(scope: Scope, loop: str) -> list[Scope]:
    out: list[Scope] = []
    for name, children in scope.loops.items():
        for child in children:
            if name == loop:
                out.append(child)
            if child.loops:
                out.extend(_instances(child, loop))
    out.sort(key=_position)
    return out


def _position(scope: Scope) -> int:
    return scope.segments[0].position or 0 if scope.segments else 0


def instances(scope: Scope, loop: str) -> list[Scope]:
    """Every instance of ``loop`` at any depth below ``scope``, in document order (computed once per scope and
    loop: scopes are not changed after :func:`build_scopes`)."""
    cache = scope._instances
    if cache is None:
        cache = scope._instances = {}
    found = cache.get(loop)
    if found is None:
        found = cache[loop] = _instances(scope, loop)
    return list(found)
