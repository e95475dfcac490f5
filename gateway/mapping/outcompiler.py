"""Outbound mapping files compiled into closures: the way back (canonical record -> segments) of
:mod:`gateway.mapping.compiler`. Each field node becomes one function, built once per loaded spec and reused for
every record written; :class:`CompiledOutbound` is the :class:`~gateway.mapping.outbound.Outbound` context that
uses them (hooks call its ``write_fields`` and ``write`` as before).

What the interpreter (:class:`~gateway.mapping.outbound.Outbound`) decides per record from the mapping file alone
(node kind, parsed paths, transforms and code tables, the builder a selector makes, the segment a path names) is
decided here once. A node's closure is ``fn(ctx, builder, value, base, name)``: its dotted name (for problems and
hooks) is ``base.name``, built only when needed. A field group's closure is ``fn(ctx, builder, data, where)``.

A node this module does not compile on its own (a configuration error: unknown keys, transforms or tables,
malformed paths, missing definitions; or an unusual shape) is written by the interpreter, so errors are raised
when and as they were: the output is the interpreter's by construction (tests/mapping/test_outcompiler.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gateway.errors import ConfigError
from gateway.mapping import transforms as tf
from gateway.mapping.access import where_of
from gateway.mapping.compiler import NODE_KEYS, PRODUCT_NAMES
from gateway.mapping.engine import Problem
from gateway.mapping.leaf import node_steps
from gateway.mapping.outbound import Builder, Outbound, _put, hl_builder
from gateway.mapping.paths import Path, parse_path

if TYPE_CHECKING:
    from gateway.mapping.spec import MappingSpec

WriteFn = Callable[["CompiledOutbound", Builder, Any, str, "str | None"], None]
GroupWrite = Callable[["CompiledOutbound", Builder, Any, str], None]
SegmentOf = Callable[[Builder], list[Any]]


class CompiledOutbound(Outbound):
    """The outbound context writing through the spec's compiled closures.

    With ``tracing`` true (a subclass's class attribute) the element closures also remember which field wrote
    which element, as :class:`gateway.flows.compose._Tracing` does for the interpreter: ``origins`` maps
    (id of the segment list, element position) to the field, ``elements`` a problem's index to the element
    (``SEG-NN``) its field writes. Such a subclass overrides ``write_element``/``when_out`` the same way for the
    nodes the interpreter writes.
    """

    tracing = False

    def __init__(self, spec: MappingSpec) -> None:
        super().__init__(spec)
        self.compiled = compiled_out(spec)
        self.origins: dict[tuple[int, int], str] = {}
        self.elements: dict[int, str] = {}

    def write_fields(self, builder: Builder, fields: dict[str, Any], data: dict[str, Any], where: str = "") -> None:
        if fields:
            self.compiled.group(fields)(self, builder, data, where)

    def write(self, builder: Builder, node: Any, value: Any, where: str) -> None:
        self.compiled.node(node)(self, builder, value, where, None)


def _noop(ctx: CompiledOutbound, builder: Builder, value: Any, base: str, name: str | None) -> None:
    return None


def segment_of(path: Path, *, new: bool = False) -> SegmentOf:
    """:meth:`Builder.segment` for one path: the first segment of the builder (``up`` levels above) with the
    path's id and qualifiers, or a new one holding the qualifiers."""
    up, sid, filters = path.up, path.segment, path.filters

    def make(target: Builder) -> list[Any]:
        seg: list[Any] = [sid]
        for pos, values in filters:
            _put(seg, pos, None, values[0])
        target.segments.append(seg)
        return seg

    if new:
        return lambda builder: make(builder.up(up) if up else builder)
    if not filters:
        def plain(builder: Builder) -> list[Any]:
            target = builder.up(up) if up else builder
            for existing in target.segments:
                if existing[0] == sid:
                    return existing
            seg: list[Any] = [sid]
            target.segments.append(seg)
            return seg
        return plain

    def qualified(builder: Builder) -> list[Any]:
        target = builder.up(up) if up else builder
        for existing in target.segments:
            if existing[0] == sid and all((existing[pos] if pos < len(existing) else "") in values
                                          for pos, values in filters):
                return existing
        return make(target)
    return qualified


class OutboundCompiled:
    """The outbound closures of one spec, compiled on first use of each node and kept."""

    def __init__(self, spec: MappingSpec) -> None:
        self.spec = spec
        self.source = spec.source
        self.structure = spec.structure
        self.tables = spec.tables
        self.strict = spec.strict_tables
        self.defs = spec.defs
        # caches keyed by id() of the spec's node objects; each entry keeps its node alive (so the id stays its own)
        self._nodes: dict[int, tuple[Any, WriteFn]] = {}
        self._strings: dict[str, WriteFn] = {}
        self._groups: dict[int, tuple[Any, list[GroupWrite | None]]] = {}
        # one thread compiles a node or group met for the first time; another meeting a group half-built waits for
        # it (re-entrant: a definition that uses itself is compiled by the thread holding the lock)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------------------------------------ entry points
    def node(self, raw: Any) -> WriteFn:
        if isinstance(raw, str):
            fn = self._strings.get(raw)
            if fn is None:
                fn = self._strings[raw] = self._compile({"path": raw}, raw)
            return fn
        found = self._nodes.get(id(raw))
        if found is not None:
            return found[1]
        with self._lock:
            found = self._nodes.get(id(raw))
            if found is None:
                found = self._nodes[id(raw)] = (raw, self._compile(raw, raw))
            return found[1]

    def group(self, fields: dict[str, Any]) -> GroupWrite:
        found = self._groups.get(id(fields))
        if found is None:
            with self._lock:
                found = self._groups.get(id(fields))
                if found is None:
                    return self._group(fields)
        known = found[1]
        if known[0] is not None:
            return known[0]
        lock = self._lock

        def later(ctx: CompiledOutbound, builder: Builder, data: Any, where: str) -> None:
            if known[0] is None:
                with lock:  # held by the thread compiling this group until it is filled in
                    pass
            known[0](ctx, builder, data, where)  # type: ignore[misc]
        return later

    def _group(self, fields: dict[str, Any]) -> GroupWrite:
        cell: list[GroupWrite | None] = [None]
        self._groups[id(fields)] = (fields, cell)  # registered first: a definition may use itself
        items = [(name, self.node(sub), isinstance(sub, dict) and bool(sub.get("merge")))
                 for name, sub in fields.items()]

        def group(ctx: CompiledOutbound, builder: Builder, data: Any, where: str) -> None:
            for name, write, merge in items:
                write(ctx, builder, data if merge else data.get(name), where, name)
        cell[0] = group
        return group

    # ------------------------------------------------------------------------------------------------ compiling
    @staticmethod
    def _interpreted(raw: Any) -> WriteFn:
        """The interpreter writing ``raw`` (configuration errors and unusual shapes: raised as they were)."""
        def interpreted(ctx: CompiledOutbound, builder: Builder, value: Any, base: str, name: str | None) -> None:
            Outbound.write(ctx, builder, raw, value, where_of(base, name))
        return interpreted

    def _compile(self, node: Any, raw: Any) -> WriteFn:
        if not isinstance(node, dict) or set(node) - NODE_KEYS:
            return self._interpreted(raw)
        try:
            fn = self._kind(node)
        except (ConfigError, LookupError, TypeError, ValueError, AttributeError):
            fn = None
        return fn if fn is not None else self._interpreted(raw)

    def _kind(self, node: dict[str, Any]) -> WriteFn | None:
        if "const" in node or node.get("inbound_only"):
            return _noop
        if "hook" in node:
            hook_name = node["hook"]

            def hook(ctx: CompiledOutbound, builder: Builder, value: Any, base: str, name: str | None) -> None:
                fn = ctx.hook(hook_name).outbound
                if fn:
                    fn(ctx, builder, node, value, where_of(base, name))
            return hook
        if "concat" in node:
            parts = node["concat"]
            return self.node(parts[0]) if isinstance(parts, list) and parts else None
        if "each" in node:
            return self._each(node)
        if "use" in node or node.get("fields") is not None:
            return self._object(node)
        if "values" in node:
            return self._values(node["values"])
        if "qualified" in node:
            return self._qualified(node["qualified"])
        if "path" in node:
            return self._element(node)
        return None

    def _group_of(self, node: dict[str, Any]) -> GroupWrite | None:
        group = self.defs.get(node["use"]) if "use" in node else node.get("fields")
        if not isinstance(group, dict):
            raise LookupError("no such definition: the interpreter raises")
        return self.group(group) if group else None

    def _item_builder(self, selector: str) -> tuple[Callable[[Builder], Builder], Callable[[Builder], None] | None]:
        """What :meth:`Outbound.item_builder` and :meth:`Outbound.settle` do for ``selector``."""
        up = selector.count("../")
        name = selector.replace("../", "")
        if name == ".":
            return (lambda builder: builder.up(up)), None
        if name.startswith("HL:"):
            loop, level = (self.spec.hl["loop"] if self.spec.hl else "HL"), name[3:]
            return (lambda builder: hl_builder(builder.up(up), loop, level)), None
        parts = name.split("/")
        inner, last = parts[:-1], parts[-1]
        if last in self.structure:
            def loop_item(builder: Builder) -> Builder:
                target = builder.up(up)
                for part in inner:
                    target = target.child(part)
                return target.child(last)
            return loop_item, None
        filters = parse_path(last + ".01").filters

        def segment_item(builder: Builder) -> Builder:
            target = builder.up(up)
            for part in inner:
                target = target.child(part)
            return Builder(last, parent=target)

        def settle(target: Builder) -> None:
            base = target.parent
            assert base is not None
            for seg in target.segments:
                for pos, values in filters:
                    if (seg[pos] if pos < len(seg) else "") == "":
                        _put(seg, pos, None, values[0])
                base.segments.append(seg)
        return segment_item, settle

    def _each(self, node: dict[str, Any]) -> WriteFn | None:
        make, settle = self._item_builder(node["each"])
        if "value" in node:
            write = self.node(node["value"])

            def each_value(ctx: CompiledOutbound, builder: Builder, value: Any, base: str, name: str | None) -> None:
                where = where_of(base, name)
                for index, item in enumerate(value or []):
                    target = make(builder)
                    write(ctx, target, item, f"{where}[{index}]", None)
                    if settle is not None:
                        settle(target)
            return each_value
        group = self._group_of(node)

        def each(ctx: CompiledOutbound, builder: Builder, value: Any, base: str, name: str | None) -> None:
            where = where_of(base, name)
            for index, item in enumerate(value or []):
                target = make(builder)
                if group is not None:
                    group(ctx, target, item or {}, f"{where}[{index}]")
                if settle is not None:
                    settle(target)
        return each

    def _object(self, node: dict[str, Any]) -> WriteFn | None:
        group = self._group_of(node)
        make = self._item_builder(node["within"])[0] if "within" in node else None

        def obj(ctx: CompiledOutbound, builder: Builder, value: Any, base: str, name: str | None) -> None:
            if value:
                target = make(builder) if make is not None else builder
                if group is not None:
                    group(ctx, target, value, where_of(base, name))
        return obj

    def _values(self, texts: Any) -> WriteFn | None:
        paths = [parse_path(t) for t in texts]
        if not paths:
            return None
        new_segment = segment_of(paths[0], new=True)
        width = len(paths)

        def values(ctx: CompiledOutbound, builder: Builder, value: Any, base: str, name: str | None) -> None:
            items = list(value or [])
            for start in range(0, len(items), width):
                seg = new_segment(builder)
                for path, item in zip(paths, items[start:start + width], strict=False):
                    _put(seg, path.element, path.component, str(item))
        return values

    def _qualified(self, spec: dict[str, Any]) -> WriteFn | None:
        fixed_spec = spec.get("fixed") or {}
        fixed = [(name, parse_path(text)) for name, text in fixed_spec.items()]
        fixed_at = [(name, segment_of(path), path.element, path.component) for name, path in fixed]
        table: dict[str, str] = {}
        if spec.get("table"):
            if spec["table"] not in self.tables:
                return None
            table = self.tables[spec["table"]] or {}
        named = [(name, tf.reverse_lookup(table, name)) for name in spec.get("names") or PRODUCT_NAMES
                 if name not in fixed_spec]
        pairs = [(self._target(q), self._target(v)) for q, v in list(spec.get("pairs") or [])]
        room = len(pairs)

        def qualified(ctx: CompiledOutbound, builder: Builder, value: Any, base: str, name: str | None) -> None:
            ids = value or {}
            for field_name, seg_of, element, component in fixed_at:
                if ids.get(field_name):
                    _put(seg_of(builder), element, component, str(ids[field_name]))
            pending: list[tuple[str, str]] = [(qual, str(ids[n])) for n, qual in named if ids.get(n)]
            pending.extend((q, str(v)) for q, v in (ids.get("other") or {}).items())
            if len(pending) > room:
                where = where_of(base, name)
                ctx.problems.append(Problem(
                    f"{len(pending)} qualified values but the segment has room for {room}", where))
            for (qualifier, val), (at_q, at_v) in zip(pending, pairs, strict=False):
                for (seg_of, element, component), part in ((at_q, qualifier), (at_v, val)):
                    _put(seg_of(builder), element, component, part)
        return qualified

    @staticmethod
    def _target(text: str) -> tuple[SegmentOf, int, int | None]:
        path = parse_path(text)
        return segment_of(path), path.element, path.component

    def _invert(self, node: dict[str, Any]) -> Callable[[Any], list[str]]:
        """:meth:`Outbound.invert` for the node's transforms (raises ConfigError for an unknown transform or code
        table: the node is then interpreted)."""
        steps: list[Callable[[Any], Any]] = []
        for name, arg in reversed(node_steps(node, self.source)):
            if name == "datetime":
                steps.append(lambda v: tf.from_datetime(str(v)))
            elif name == "join":
                steps.append(lambda v: [str(v)])
            elif name == "date":
                steps.append(lambda v: tf.from_date(str(v)))
            elif name == "time":
                steps.append(lambda v: tf.from_time(str(v)))
            elif name == "decimal":
                steps.append(tf.from_decimal)
            elif name == "table":
                if arg not in self.tables:
                    raise ConfigError(f"no code table {arg!r}")
                steps.append(_reverse(self.tables[arg] or {}, arg in self.strict, arg))

        def invert(value: Any) -> list[str]:
            current = value
            for step in steps:
                current = step(current)
            if isinstance(current, list):
                return [str(c) for c in current]
            if isinstance(current, Decimal):
                current = tf.from_decimal(current)
            return [str(current)]
        return invert

    def _element(self, node: dict[str, Any]) -> WriteFn | None:
        texts = node["path"] if isinstance(node["path"], list) else [node["path"]]
        paths = [parse_path(t) for t in texts]
        if not paths:
            return None
        invert = self._invert(node)
        first = paths[0]
        first_of = segment_of(first)
        targets = [(None if (p.segment == first.segment and p.filters == first.filters and p.up == first.up)
                    else segment_of(p), p.element, p.component) for p in paths]
        default = [str(node["default"])] if "default" in node else None
        required = bool(node.get("required"))
        when = node.get("when")
        equals: tuple[int, int | None, str] | None = None
        if when and "equals" in when:
            w = parse_path(when["path"])
            if w.segment == first.segment:
                equals = (w.element, w.component, str(when["equals"]))
        one = len(targets) == 1 and targets[0][2] is None
        element0 = first.element
        label = f"{first.segment}-{first.element:02d}"
        written = [p.element for p in paths]

        def element(ctx: CompiledOutbound, builder: Builder, value: Any, base: str, name: str | None) -> None:
            if value is None or value == "" or value == [] or value == {}:
                if default is None:
                    if required:
                        where = where_of(base, name)
                        ctx.problems.append(Problem(f"required field {where!r} is empty", where))
                        if ctx.tracing:
                            ctx.elements[len(ctx.problems) - 1] = label
                    return
                parts = default
            else:
                try:
                    parts = invert(value)
                except tf.TransformError as exc:
                    ctx.problems.append(Problem(str(exc), where_of(base, name)))
                    if ctx.tracing:
                        ctx.elements[len(ctx.problems) - 1] = label
                    return
            seg = first_of(builder)
            if one:
                part = parts[0] if parts else None
                if part is not None and (part != "" or element0 < len(seg)):
                    _put(seg, element0, None, part)
            else:
                for (seg_of, pos, component), part in zip(targets, parts, strict=False):
                    target = seg if seg_of is None else seg_of(builder)
                    if part != "" or pos < len(target):
                        _put(target, pos, component, part)
            if equals is not None:
                _put(seg, equals[0], equals[1], equals[2])
            if ctx.tracing:
                where = where_of(base, name)
                origins, key = ctx.origins, id(seg)
                for pos in written:
                    origins[(key, pos)] = where
        return element


def _reverse(table: dict[str, str], strict: bool, name: str) -> Callable[[Any], str]:
    return lambda v: tf.reverse_lookup(table, str(v), strict=strict, name=name)


def compiled_out(spec: MappingSpec) -> OutboundCompiled:
    """The spec's compiled outbound closures (built on first use and kept on the spec)."""
    found = spec.compiled_out
    if found is None:
        found = spec.compiled_out = OutboundCompiled(spec)
    return found
