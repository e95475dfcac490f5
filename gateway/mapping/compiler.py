"""Inbound mapping files compiled into closures: each field node of a :class:`~gateway.mapping.spec.MappingSpec`
becomes one Python function, built once per loaded spec (the spec is cached per file, modification time and
partner overrides, see :func:`gateway.mapping.x12.mapping_for`) and reused for every transaction set.

The closures do what :mod:`gateway.mapping.engine` describes, with every decision that depends only on the mapping
file (node kind, parsed paths, transforms, code tables, conditions, selectors) taken at compile time. A node's
closure is ``fn(ctx, scope, base, name) -> value``: the field's dotted name (for problems and hooks) is
``base.name`` and is only built when needed. A field group's closure is ``fn(ctx, scope, where) -> dict``.

Configuration errors (unknown keys, transforms or tables, malformed paths, missing definitions) are raised when
the node that has them is used, with the same messages as when the mapping files were interpreted: compiling such
a node yields a closure that raises.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.errors import ConfigError, Location
from gateway.mapping.access import (
    GroupFn,
    NodeFn,
    climb,
    finder,
    getter,
    passes_fn,
    raiser,
    reader,
    where_of,
)
from gateway.mapping.groupgen import Need, generate_group
from gateway.mapping.leaf import Condition, Inline, ValueCompiler, compile_leaf
from gateway.mapping.paths import parse_path
from gateway.mapping.structure import LoopDef, Scope, compile_structure, instances

if TYPE_CHECKING:
    from gateway.mapping.engine import Inbound
    from gateway.mapping.spec import MappingSpec

Select = Callable[[Scope], list[Scope]]

NODE_KEYS = frozenset({"path", "required", "table", "default", "transform", "values", "each", "use", "fields",
                       "value", "when", "qualified", "const", "hook", "description", "merge", "within",
                       "inbound_only", "concat"})
PRODUCT_NAMES = ("sku", "upc", "case_upc", "gtin", "vendor_part", "buyer_part")


class CompiledMapping:
    """The closures of one spec, compiled on first use of each node and kept (see the module docstring)."""

    def __init__(self, spec: MappingSpec) -> None:
        self.spec = spec
        self.source = spec.source
        self.structure = spec.structure
        self.tables = spec.tables
        self.strict = spec.strict_tables
        self.defs = spec.defs
        self.hl_loop: str | None = spec.hl["loop"] if spec.hl else None
        self.loops: dict[str, LoopDef] = compile_structure(self.structure)
        self.values = ValueCompiler(self.tables, self.strict, self.source)
        self.inline: dict[int, tuple[NodeFn, Inline]] = {}  # leaves a group's generated code reads itself
        # nodes whose value is empty when the scope lacks a segment id or loop (groupgen.Need): a group's generated
        # code calls them only when the scope has it (most ``each``/``values`` of a sparse set select nothing)
        self.needs: dict[int, tuple[NodeFn, Need]] = {}
        # caches keyed by id() of the spec's node objects; each entry keeps its node alive (so the id stays its own)
        self._nodes: dict[int, tuple[Any, NodeFn]] = {}
        self._strings: dict[str, NodeFn] = {}
        self._groups: dict[int, tuple[Any, _GroupRef]] = {}
        self._selects: dict[str, Select] = {}
        self._conditions: dict[int, tuple[Any, Condition]] = {}
        # several inbound workers map with one spec at once (PostgreSQL): a node or group compiled on first use is
        # compiled by one thread; another that meets it half-built waits for it (the lock is re-entrant: a
        # definition that uses itself is compiled by the thread already holding it)
        self._lock = threading.RLock()
        self.fields: GroupFn = self.group(spec.fields)

    # ------------------------------------------------------------------------------------------------ entry points
    def node(self, raw: Any) -> NodeFn:
        if isinstance(raw, str):
            fn = self._strings.get(raw)
            if fn is None:
                fn = self._strings[raw] = self._leaf({"path": raw})
            return fn
        found = self._nodes.get(id(raw))
        if found is not None:
            return found[1]
        with self._lock:
            found = self._nodes.get(id(raw))
            if found is None:
                found = self._nodes[id(raw)] = (raw, self._compile(raw))
            return found[1]

    def group(self, fields: Any) -> GroupFn:
        """The closure mapping a field group (a ``fields`` dict or a definition) onto a scope."""
        found = self._groups.get(id(fields))
        if found is None:
            with self._lock:
                found = self._groups.get(id(fields))
                if found is None:
                    ref = _GroupRef(self._lock)
                    self._groups[id(fields)] = (fields, ref)  # registered first: a definition may use itself
                    items = [(name, self.node(sub), isinstance(sub, dict) and bool(sub.get("merge")))
                             for name, sub in fields.items()]
                    fn = ref.fn = generate_group(items, self.inline, self.needs)
                    return fn
        ref = found[1]
        return ref.fn if ref.fn is not None else ref.call  # being compiled: call waits for it

    def select(self, selector: str) -> Select:
        found = self._selects.get(selector)
        if found is None:
            found = self._selects[selector] = self._select(selector)
        return found

    def condition(self, when: Any) -> Condition | None:
        """``when`` as a function of the scope (``None``: always true)."""
        if not when:
            return None
        found = self._conditions.get(id(when))
        if found is None:
            found = self._conditions[id(when)] = (when, self._condition(when))
        return found[1]

    # ------------------------------------------------------------------------------------------------ compiling
    def _config(self, message: str, where: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, location=Location(file=self.source, field=where), hint=hint)

    def _compile(self, node: Any) -> NodeFn:
        if not isinstance(node, dict):
            def not_a_node(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
                where = where_of(base, name)
                raise self._config(f"field {where!r}: a field is a path or a mapping", where)
            return not_a_node
        unknown = set(node) - NODE_KEYS
        if unknown:
            def unknown_keys(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
                where = where_of(base, name)
                raise self._config(f"field {where!r}: unknown keys {sorted(unknown)}", where,
                                   hint=f"allowed: {', '.join(sorted(NODE_KEYS))}")
            return unknown_keys
        if "const" in node:
            constant = node["const"]
            return lambda ctx, scope, base, name: constant
        if "hook" in node:
            hook_name = node["hook"]

            def hook(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
                fn = ctx.hook(hook_name).inbound
                return fn(ctx, scope, node, where_of(base, name)) if fn else None
            return hook
        if "concat" in node:
            return self._concat(node)
        if "each" in node:
            return self._each(node)
        if "use" in node or node.get("fields") is not None:
            return self._object(node)
        if "values" in node:
            return self._values(node["values"])
        if "qualified" in node:
            return self._qualified(node["qualified"])
        if "path" in node:
            return self._leaf(node)

        def nothing(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            where = where_of(base, name)
            raise self._config(f"field {where!r} has no path, values, each, fields, product_ids, const or hook",
                               where)
        return nothing

    def _group_of(self, node: dict[str, Any]) -> tuple[GroupFn | None, Callable[[str], Any] | None]:
        """(the node's field group, None), or (None, a function of the field name raising the error of a missing
        definition)."""
        if "use" in node:
            group = self.defs.get(node["use"])
            if group is None:
                use = node["use"]

                def missing(where: str) -> Any:
                    raise self._config(f"field {where!r}: no definition {use!r} in defs", where)
                return None, missing
            return self.group(group), None
        return self.group(node["fields"]), None

    def _concat(self, node: dict[str, Any]) -> NodeFn:
        parts = [self.node(part) for part in node["concat"]]

        def concat(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            out: list[Any] = []
            for part in parts:
                out.extend(part(ctx, scope, base, name) or [])
            return out
        return concat

    def _each(self, node: dict[str, Any]) -> NodeFn:
        return self._needing(self._each_fn(node), self._selector_need(node["each"]))

    def _each_fn(self, node: dict[str, Any]) -> NodeFn:
        select = self.select(node["each"])
        cond = self.condition(node.get("when"))
        if "value" in node:
            value = self.node(node["value"])

            def each_value(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
                where = where_of(base, name)
                out = []
                for index, item in enumerate(select(scope)):
                    if cond is not None and not cond(item):
                        continue
                    v = value(ctx, item, f"{where}[{index}]", None)
                    if not (v is None or v == "" or v == [] or v == {}):
                        out.append(v)
                return out
            return each_value
        group: GroupFn | None = None
        missing: Callable[[str], Any] | None = None
        if "use" in node or node.get("fields") is not None:
            group, missing = self._group_of(node)

        def each(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            where = where_of(base, name)
            out = []
            for index, item in enumerate(select(scope)):
                if cond is not None and not cond(item):
                    continue
                if missing is not None:
                    missing(where)
                if group is None:
                    continue  # no fields: an empty object, dropped
                v = group(ctx, item, f"{where}[{index}]")
                if v:
                    out.append(v)
            return out
        return each

    def _object(self, node: dict[str, Any]) -> NodeFn:
        group, missing = self._group_of(node)
        if group is None:
            assert missing is not None
            fail = missing
            return lambda ctx, scope, base, name: fail(where_of(base, name))
        within = self.select(node["within"]) if "within" in node else None
        cond = self.condition(node.get("when"))
        need = self._selector_need(node["within"]) if "within" in node else None

        def obj(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            if within is not None:
                found = within(scope)
                if not found:
                    return None
                scope = found[0]
            if cond is not None and not cond(scope):
                return None
            return group(ctx, scope, where_of(base, name)) or None
        return self._needing(obj, need)

    def _needing(self, fn: NodeFn, need: Need | None) -> NodeFn:
        """``fn``, noted as giving an empty value on a scope without ``need`` (see ``needs``)."""
        if need is not None:
            self.needs[id(fn)] = (fn, need)
        return fn

    def _selector_need(self, selector: str) -> Need | None:
        """What a scope must hold for ``selector`` (:meth:`select`) to select anything from it: the loop its path
        starts with, or the segment id it selects (None: a selector going up, ``.``, ``HL:``, or malformed)."""
        if "../" in selector:
            return None
        name = selector
        if name == "." or name.startswith("HL:"):
            return None
        parts = name.split("/")
        last = parts[-1]
        if last in self.structure:
            return ("loop", parts[0])
        try:
            segment = parse_path(last + ".01").segment
        except ConfigError:
            return None  # the selector raises on every scope
        return ("loop", parts[0]) if len(parts) > 1 else ("segment", segment)

    def _select(self, selector: str) -> Select:
        up = selector.count("../")
        name = selector.replace("../", "")
        if name == ".":
            return lambda scope: [climb(scope, up)]
        if name.startswith("HL:"):
            loop, level = self.hl_loop, name[3:]
            if loop is None:
                return lambda scope: []
            return lambda scope: [s for s in instances(climb(scope, up), loop) if s.level == level]
        parts = name.split("/")
        inner, last = parts[:-1], parts[-1]
        if last in self.structure:
            def loops(scope: Scope) -> list[Scope]:
                level = [climb(scope, up)]
                for part in inner:
                    level = [child for s in level for child in s.loops.get(part, [])]
                return [child for s in level for child in s.loops.get(last, [])]
            return loops
        try:
            path = parse_path(last + ".01")
        except ConfigError:
            return raiser(lambda: parse_path(last + ".01"))
        seg_id = path.segment
        passes = passes_fn(path)
        item = Scope.item

        def segments(scope: Scope) -> list[Scope]:
            if inner:
                level = [climb(scope, up)]
                for part in inner:
                    level = [child for s in level for child in s.loops.get(part, [])]
            else:
                level = [climb(scope, up) if up else scope]
            out: list[Scope] = []
            for s in level:
                idx = s._index
                if idx is None:
                    idx = s.ids()
                found = idx.get(seg_id)
                if found:
                    out.extend(item(seg, s) for seg in found if passes is None or passes(seg))
            return out
        return segments

    def _condition(self, when: Any) -> Condition:
        try:
            read = reader(parse_path(when["path"]))
        except (ConfigError, KeyError, TypeError):
            return raiser(lambda: parse_path(when["path"]))
        allowed = [str(v) for v in when["in"]] if "in" in when else None
        refused = [str(v) for v in when["not_in"]] if "not_in" in when else None
        equals = str(when["equals"]) if "equals" in when else None
        present = when.get("present") is True

        def condition(scope: Scope) -> bool:
            value, seg = read(scope)
            if allowed is not None and value not in allowed:
                return False
            if refused is not None and value in refused:
                return False
            if equals is not None and value != equals:
                return False
            return not (present and seg is None)
        return condition

    def _values(self, texts: list[str]) -> NodeFn:
        try:
            paths = [parse_path(t) for t in texts]
        except ConfigError:
            return raiser(lambda: [parse_path(t) for t in texts])
        first = paths[0]
        matches = first.matches
        getters = [getter(p) for p in paths]

        def values(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            out: list[str] = []
            for seg in climb(scope, first.up).segments:
                if matches(seg):
                    out.extend(v for v in (get(seg) for get in getters) if v)
            return out
        return self._needing(values, ("segment", first.segment) if first.up == 0 else None)

    def _qualified(self, spec: dict[str, Any]) -> NodeFn:
        try:
            fixed_paths = [(name, parse_path(text)) for name, text in (spec.get("fixed") or {}).items()]
            fixed = [(name, reader(path)) for name, path in fixed_paths]
            pairs = [(parse_path(q), parse_path(v)) for q, v in spec.get("pairs") or []]
        except ConfigError:
            return raiser(lambda: [parse_path(t) for t in [*(spec.get("fixed") or {}).values(),
                                                            *(x for pair in spec.get("pairs") or [] for x in pair)]])
        table_name = spec.get("table")
        table: dict[str, str] = {}
        if table_name:
            if table_name not in self.tables:
                return raiser(lambda: self.values.table(table_name))
            table = self.tables[table_name] or {}
        names = spec.get("names") or PRODUCT_NAMES
        flat = [p for pair in pairs for p in pair]
        same = bool(flat) and all(p.segment == flat[0].segment and p.up == flat[0].up and not p.filters
                                  and p.component is None for p in flat)
        if same:  # the usual LIN/W01 pairs: one segment looked up once, elements by index
            find = finder(flat[0])
            positions = [(q.element, v.element) for q, v in pairs]

            def read_pairs(scope: Scope) -> list[tuple[str, str]]:
                seg = find(scope)
                if seg is None:
                    return []
                els = seg.elements
                n = len(els)
                out = []
                for q, v in positions:
                    value = els[v].strip() if 0 < v < n else ""
                    if value:
                        out.append((els[q].strip() if 0 < q < n else "", value))
                return out
        else:
            readers = [(reader(q), reader(v)) for q, v in pairs]

            def read_pairs(scope: Scope) -> list[tuple[str, str]]:
                out = []
                for read_q, read_v in readers:
                    qualifier, _ = read_q(scope)
                    value, _ = read_v(scope)
                    if value:
                        out.append((qualifier, value))
                return out

        def qualified(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            out: dict[str, Any] = {}
            other: dict[str, str] = {}
            for key, read in fixed:
                value, _ = read(scope)
                if value:
                    out[key] = value
            for qualifier, value in read_pairs(scope):
                known = table.get(qualifier)
                if known is not None and known in names and known not in out:
                    out[known] = value
                elif qualifier not in other:
                    other[qualifier] = value
            if other:
                out["other"] = other
            return out or None
        every = [reader_path for _, reader_path in fixed_paths] + flat
        one_segment = bool(every) and all(p.up == 0 and p.segment == every[0].segment for p in every)
        return self._needing(qualified, ("segment", every[0].segment) if one_segment else None)

    def _leaf(self, node: dict[str, Any]) -> NodeFn:
        return compile_leaf(self.values, node, self.condition(node.get("when")), self.inline)


class _GroupRef:
    """A field group's closure, filled in after its fields are compiled; ``call`` reaches it before that (a
    definition that uses itself, or another thread while this one compiles it: it waits for the compile)."""

    __slots__ = ("call", "fn")

    def __init__(self, lock: threading.RLock) -> None:
        self.fn: GroupFn | None = None

        def call(ctx: Inbound, scope: Scope, where: str) -> dict[str, Any]:
            fn = self.fn
            if fn is None:
                with lock:  # held by the thread compiling this group until it is filled in
                    fn = self.fn
                assert fn is not None
            return fn(ctx, scope, where)
        self.call: GroupFn = call


def compiled(spec: MappingSpec) -> CompiledMapping:
    """The spec's compiled closures (built on first use and kept on the spec)."""
    found = spec.compiled
    if found is None:
        found = spec.compiled = CompiledMapping(spec)
    return found
