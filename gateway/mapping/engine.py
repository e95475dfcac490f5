"""The mapping engine: applies a mapping file's field nodes to a scope tree (inbound, through the closures the
nodes are compiled into once per loaded file, :mod:`gateway.mapping.compiler`; the way back, canonical record to
segments, is :mod:`gateway.mapping.outbound`, compiled the same way by :mod:`gateway.mapping.outcompiler`). No
expression evaluation: only paths, the transforms of :mod:`.transforms`, code tables, conditions on qualifiers and
registered hooks.

Field nodes (a plain string is short for ``{path: ...}``)::

    {path: W05.02, required: true}                       one element
    {path: W05.01, table: purpose, default: N}           code table (unknown codes kept unless strict)
    {path: "G62[01=10].02", transform: date}             condition on a qualifier inside the path
    {path: [DTM.02, DTM.03, DTM.04], transform: datetime}  several elements into one value
    {path: G69.01, transform: {join: " "}}               join / split
    {values: [N3.01, N3.02]}                             every such element of every such segment -> list
    {each: N1, use: party}                               list: one item per loop instance (N1), nested LX/W01,
    {each: "N9", fields: {...}, when: {path: N9.01, not_in: [LV]}}   or per segment; `when` filters items
    {concat: [{each: N9, ...}, {each: REF, ...}]}        lists from several nodes (a partner's extra references)
                                                         in turn; outbound writes with the first node
    {fields: {...}}                                      nested object in the same scope
    {qualified: {fixed: {upc: W01.03}, pairs: [[W01.04, W01.05]], table: product_qualifier,
                 names: [sku, upc, gtin, vendor_part, buyer_part]}}    qualifier/value pairs -> named fields,
                                                         the rest under `other` (qualifier -> value)
    {const: value}                                       a constant (inbound only)
    {..., merge: true}                                   the node's object is merged into the enclosing one
    {hook: name}                                         a registered Python function
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.edi.x12.segment import Segment
from gateway.errors import ConfigError, Location, MappingError
from gateway.mapping import hooks as hook_registry
from gateway.mapping.access import climb, empty
from gateway.mapping.compiler import NODE_KEYS, PRODUCT_NAMES, compiled
from gateway.mapping.leaf import node_steps
from gateway.mapping.paths import Path, parse_path
from gateway.mapping.spec import MappingSpec
from gateway.mapping.structure import Scope

_NODE_KEYS = NODE_KEYS
_PRODUCT_NAMES = PRODUCT_NAMES


@dataclass(slots=True)
class Problem:
    message: str
    field: str
    segment: Segment | None = None
    element: int | None = None

    def location(self, file: str | None = None) -> Location:
        return Location(file=file, segment_position=self.segment.position if self.segment else None,
                        segment_id=self.segment.id if self.segment else None, element_position=self.element,
                        field=self.field)


_empty = empty


class Context:
    """One mapping applied to one transaction set (inbound) or one record (outbound); collects problems."""

    def __init__(self, spec: MappingSpec) -> None:
        self.spec = spec
        self.problems: list[Problem] = []
        self.tables = spec.tables
        self.strict = spec.strict_tables
        # per-node caches, keyed by id() of nodes the spec keeps alive (the node is stored to pin its id)
        self._checked: dict[int, Any] = spec.checked
        self._transforms: dict[int, tuple[Any, list[tuple[str, Any]]]] = spec.transform_cache
        self._paths = spec.path_nodes

    # -- shared --------------------------------------------------------------------------------------------------
    def is_loop(self, name: str) -> bool:
        return name in self.spec.structure

    def resolve_node(self, node: Any, where: str) -> dict[str, Any]:
        if isinstance(node, str):
            found = self._paths.get(node)
            if found is None:
                found = self._paths[node] = {"path": node}
            return found
        if id(node) in self._checked:
            return node
        if not isinstance(node, dict):
            raise ConfigError(f"field {where!r}: a field is a path or a mapping", location=Location(
                file=self.spec.source, field=where))
        unknown = set(node) - _NODE_KEYS
        if unknown:
            raise ConfigError(f"field {where!r}: unknown keys {sorted(unknown)}",
                              location=Location(file=self.spec.source, field=where),
                              hint=f"allowed: {', '.join(sorted(_NODE_KEYS))}")
        self._checked[id(node)] = node
        return node

    def group(self, node: dict[str, Any], where: str) -> dict[str, Any] | None:
        if "use" in node:
            group = self.spec.defs.get(node["use"])
            if group is None:
                raise ConfigError(f"field {where!r}: no definition {node['use']!r} in defs",
                                  location=Location(file=self.spec.source, field=where))
            return group
        return node.get("fields")

    def transforms(self, node: dict[str, Any]) -> list[tuple[str, Any]]:
        if "transform" not in node and not node.get("table"):
            # nothing to cache; and a plain path gets a fresh {"path": ...} per call (resolve_node), which the
            # spec-wide cache would pin forever: memory growing with every record written
            return []
        cached = self._transforms.get(id(node))
        if cached is not None:
            return cached[1]
        out = node_steps(node, self.spec.source)
        self._transforms[id(node)] = (node, out)
        return out

    def table(self, name: str) -> dict[str, str]:
        if name not in self.tables:
            raise ConfigError(f"no code table {name!r}", location=Location(file=self.spec.source))
        return self.tables[name] or {}

    def hook(self, name: str):
        hook = hook_registry.get(name)
        if hook is None:
            raise ConfigError(f"no hook named {name!r} is registered", location=Location(file=self.spec.source))
        return hook


class Inbound(Context):
    """Scope tree -> plain dict (validated into a canonical record by the caller), through the spec's compiled
    closures (:mod:`gateway.mapping.compiler`); the methods below are what hooks use."""

    def __init__(self, spec: MappingSpec) -> None:
        super().__init__(spec)
        self.compiled = compiled(spec)

    # -- element access ------------------------------------------------------------------------------------------
    climb = staticmethod(climb)

    def find(self, scope: Scope, path: Path) -> Segment | None:
        candidates = (climb(scope, path.up) if path.up else scope).by_id(path.segment)
        if not path.filters:
            return candidates[0] if candidates else None
        for seg in candidates:
            if path.passes(seg):
                return seg
        return None

    @staticmethod
    def element(seg: Segment, path: Path) -> str:
        if path.component is not None:
            comps = seg.components(path.element)
            return comps[path.component - 1].strip() if len(comps) >= path.component else ""
        return seg.element(path.element).strip()

    def read(self, scope: Scope, text: str) -> tuple[str, Segment | None]:
        path = parse_path(text)
        seg = self.find(scope, path)
        return (self.element(seg, path), seg) if seg is not None else ("", None)

    def condition(self, scope: Scope, when: dict[str, Any] | None) -> bool:
        check = self.compiled.condition(when)
        return check is None or check(scope)

    def select(self, scope: Scope, selector: str) -> list[Scope]:
        """Items of an ``each``: ``.`` (this scope), loops (``LX/W01``), or segments at the end of a loop path
        (``N9``, ``LX/W12/N9[01=LV]``), each segment becoming a one-segment scope below its own scope."""
        return self.compiled.select(selector)(scope)

    # -- nodes ---------------------------------------------------------------------------------------------------
    def map_fields(self, scope: Scope, fields: dict[str, Any], where: str = "") -> dict[str, Any]:
        return self.compiled.group(fields)(self, scope, where)

    def value(self, scope: Scope, node: Any, where: str) -> Any:
        return self.compiled.node(node)(self, scope, where, None)


def problems_to_error(problems: list[Problem], *, set_id: str, control: str, file: str | None,
                      st: Segment | None) -> MappingError:
    first = problems[0]
    if first.segment is None and st is not None:
        first = Problem(first.message, first.field, st, None)
    extra = f" (and {len(problems) - 1} more: " + "; ".join(
        f"{p.field}: {p.message}" for p in problems[1:6]) + ")" if len(problems) > 1 else ""
    error = MappingError(f"transaction set {set_id} {control}: {first.field}: {first.message}{extra}",
                         location=first.location(file),
                         hint="fix the document or add the value to the partner's mapping overrides, then reprocess")
    error.problems = problems  # type: ignore[attr-defined]
    return error


def check_spec(spec: MappingSpec) -> None:
    """Walk every field node of a mapping once, without data: unknown keys, transforms, tables, definitions,
    hooks and malformed paths raise ConfigError naming the field (what a reviewer wants before a partner goes live).
    """
    ctx = Context(spec)
    for name in spec.hooks:
        ctx.hook(name)

    def walk(node: Any, where: str) -> None:
        node = ctx.resolve_node(node, where)
        for text in ([node["path"]] if isinstance(node.get("path"), str) else node.get("path") or []):
            parse_path(text)
        for text in node.get("values") or []:
            parse_path(text)
        if node.get("when"):
            parse_path(node["when"]["path"])
        for tname, arg in ctx.transforms(node):
            if tname == "table":
                ctx.table(arg)
        if "hook" in node:
            ctx.hook(node["hook"])
        if "qualified" in node:
            q = node["qualified"]
            for text in list((q.get("fixed") or {}).values()) + [t for pair in q.get("pairs") or [] for t in pair]:
                parse_path(text)
            if q.get("table"):
                ctx.table(q["table"])
        for i, part in enumerate(node.get("concat") or []):
            walk(part, f"{where}[{i}]")
        if "value" in node:
            walk(node["value"], where)
        group = ctx.group(node, where)
        for child, sub in (group or {}).items():
            walk(sub, f"{where}.{child}" if where else child)

    for name, node in spec.fields.items():
        walk(node, name)
    for name, group in spec.defs.items():
        for child, sub in group.items():
            walk(sub, f"defs.{name}.{child}")
