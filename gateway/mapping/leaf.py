"""Element values compiled from a mapping's field nodes: ``path`` (one or several elements), ``default``,
``required``, ``when`` and the transforms and code tables of :mod:`.transforms`, with the engine's rules (an empty
value gives nothing, a transform error is a problem naming the field, segment and element). Used by
:mod:`.compiler`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from gateway.edi.x12.segment import Segment
from gateway.errors import ConfigError, Location
from gateway.mapping import transforms as tf
from gateway.mapping.access import NodeFn, finder, getter, problem, raiser, where_of
from gateway.mapping.paths import parse_path
from gateway.mapping.structure import Scope

if TYPE_CHECKING:
    from gateway.mapping.engine import Inbound

Condition = Callable[[Scope], bool]


class ValueCompiler:
    """Transforms and code tables of one mapping, compiled (errors raised when the value is converted)."""

    def __init__(self, tables: dict[str, Any], strict: set[str], source: str) -> None:
        self.tables = tables
        self.strict = strict
        self.source = source

    def table(self, name: str) -> dict[str, str]:
        if name not in self.tables:
            raise ConfigError(f"no code table {name!r}", location=Location(file=self.source))
        return self.tables[name] or {}

    def steps(self, node: dict[str, Any]) -> list[tuple[str, Any]]:
        """The node's transforms and table, as (name, argument); raises ConfigError as the engine did."""
        return node_steps(node, self.source)

    def single(self, name: str, arg: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
        """One value transform: (with the engine's rule, an empty value gives None except for ``strip``; the same
        for a value known not to be empty)."""
        if name == "table":
            if arg not in self.tables:
                fail = raiser(lambda: self.table(arg))
                return fail, fail
            table = self.tables[arg] or {}
            if arg in self.strict:
                def strict(v: Any) -> Any:
                    return tf.lookup(table, v, strict=True, name=arg)
                fn: Callable[[Any], Any] = strict
            else:
                def lookup(v: Any) -> Any:
                    return table.get(v, v)
                fn = lookup
        elif name == "date":
            fn = tf.to_date
        elif name == "time":
            fn = tf.to_time
        elif name == "decimal":
            fn = tf.to_decimal
        elif name == "strip":
            return (lambda v: v.strip() if v else v), str.strip
        else:
            return (lambda v: v if v else None), (lambda v: v)
        return (lambda v: fn(v) if v else None), fn

    def apply(self, node: dict[str, Any]) -> tuple[Callable[[list[str]], Any], Callable[[str], Any]] | None:
        """(apply to the list of raw values, apply to one non-empty value); None without transforms."""
        try:
            steps = self.steps(node)
        except ConfigError:
            fail = raiser(lambda: self.steps(node))
            return fail, fail
        if not steps:
            return None
        chain: list[tuple[str, Any]] = []
        for name, arg in steps:
            if name == "datetime":
                chain.append((name, None))
            elif name == "join":
                chain.append((name, arg if arg is not None else " "))
            else:
                chain.append(("single", self.single(name, arg)))
        raw_one = chain[0][1][1] if len(chain) == 1 and chain[0][0] == "single" else None

        def run(current: Any) -> Any:
            for kind, arg in chain:
                if kind == "single":
                    if isinstance(current, list):
                        current = current[0]
                    current = arg[0](current)
                elif kind == "datetime":
                    parts = current if isinstance(current, list) else [current]
                    current = tf.to_datetime(*parts[:3])
                else:
                    parts = current if isinstance(current, list) else [current]
                    current = arg.join(p for p in parts if p)
            if isinstance(current, list):
                current = current[0]
            return current

        def apply(values: list[str]) -> Any:
            return run(values if len(values) > 1 else values[0])

        one: Callable[[str], Any] = run
        if raw_one is not None:
            one = raw_one
        elif len(chain) == 1 and chain[0][0] == "datetime":
            one = tf.to_datetime
        return apply, one


class Inline(NamedTuple):
    """How a field group's generated code may read a leaf itself (:mod:`.groupgen`) instead of calling it:
    ``kind`` "plain" (the stripped element, or nothing when empty), "filtered" (the same from the first segment
    whose element ``filter_pos`` is one of ``filter_values``) or "single" (one element converted by ``convert``;
    ``finish(ctx, scope, where, value, segment)`` decides an empty or missing one)."""

    kind: str
    segment: str
    element: int
    convert: Callable[[str], Any] | None = None
    finish: Callable[..., Any] | None = None
    filter_pos: int = 0
    filter_values: tuple[str, ...] = ()


def compile_leaf(values: ValueCompiler, node: dict[str, Any], cond: Condition | None,
                 inline: dict[int, tuple[NodeFn, Inline]] | None = None) -> NodeFn:
    """An element value: ``path`` (one or several), ``when``, ``default``, ``required``, transforms. When the
    leaf can be read inline by a group's generated code, ``inline`` receives its :class:`Inline` by id of the
    returned closure."""
    texts = node["path"] if isinstance(node["path"], list) else [node["path"]]
    try:
        paths = [parse_path(t) for t in texts]
    except ConfigError:
        fail = raiser(lambda: [parse_path(t) for t in texts])

        def bad_path(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            if cond is not None and not cond(scope):
                return None
            return fail()
        return bad_path
    first = paths[0]
    element = first.element
    find, get = finder(first), getter(first)
    applied = values.apply(node)
    apply, one = applied if applied is not None else (None, None)
    has_default = "default" in node
    default = str(node["default"]) if has_default else ""
    required = bool(node.get("required"))
    anchor_find = finder(parse_path(f"{first.segment}.01"))

    def finish(ctx: Inbound, scope: Scope, where: str, values: list[str], seg: Segment | None) -> Any:
        if not values[0] and has_default:
            values[0] = default
        if not any(values):
            if required:
                where_seg = anchor_find(scope) if seg is None else seg
                ctx.problems.append(problem(
                    f"required value missing: {first.segment}{element:02d}"
                    + (" (segment absent)" if seg is None else ""), where, where_seg or scope.first,
                    element if seg is not None else None))
            return None
        if apply is None:
            return values[0]
        try:
            return apply(values)
        except tf.TransformError as exc:
            ctx.problems.append(problem(str(exc), where, seg, element))
            return None

    if len(paths) > 1:
        finders = [(finder(p), getter(p)) for p in paths]

        def several(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            if cond is not None and not cond(scope):
                return None
            values = []
            seg = None
            for find_p, get_p in finders:
                sg = find_p(scope)
                if sg is None:
                    values.append("")
                else:
                    values.append(get_p(sg))
                    if seg is None:
                        seg = sg
            return finish(ctx, scope, where_of(base, name), values, seg)
        return several

    seg_id = first.segment
    direct = first.up == 0 and not first.filters and first.component is None and element > 0
    fn = _single_path(cond, find, get, seg_id, element, direct, one, has_default, required, finish)
    if inline is not None and cond is None and first.up == 0 and first.component is None and element > 0:
        plain = one is None and not has_default and not required
        if direct and plain:
            inline[id(fn)] = (fn, Inline("plain", seg_id, element))
        elif direct and one is not None:
            inline[id(fn)] = (fn, Inline("single", seg_id, element, one, finish))
        elif plain and len(first.filters) == 1 and first.filters[0][0] > 0:
            inline[id(fn)] = (fn, Inline("filtered", seg_id, element, filter_pos=first.filters[0][0],
                                         filter_values=first.filters[0][1]))
    return fn


def _single_path(cond: Condition | None, find: Any, get: Any, seg_id: str, element: int, direct: bool,
                 one: Callable[[str], Any] | None, has_default: bool, required: bool,
                 finish: Callable[..., Any]) -> NodeFn:
    if direct and cond is None and one is None and not has_default and not required:
        def direct_plain(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            idx = scope._index
            if idx is None:
                idx = scope.ids()
            found = idx.get(seg_id)
            if found:
                els = found[0].elements
                if element < len(els):
                    value = els[element].strip()
                    if value:
                        return value
            return None
        return direct_plain

    if direct and cond is None and one is not None:
        convert = one

        def direct_single(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            idx = scope._index
            if idx is None:
                idx = scope.ids()
            found = idx.get(seg_id)
            seg = None
            value = ""
            if found:
                seg = found[0]
                els = seg.elements
                if element < len(els):
                    value = els[element].strip()
                    if value:
                        try:
                            return convert(value)
                        except tf.TransformError as exc:
                            ctx.problems.append(problem(str(exc), where_of(base, name), seg, element))
                            return None
            return finish(ctx, scope, where_of(base, name), [value], seg)
        return direct_single

    if cond is None and one is None and not has_default and not required:
        def plain(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
            seg = find(scope)
            if seg is not None:
                value = get(seg)
                if value:
                    return value
            return None
        return plain

    def single(ctx: Inbound, scope: Scope, base: str, name: str | None) -> Any:
        if cond is not None and not cond(scope):
            return None
        seg = find(scope)
        value = get(seg) if seg is not None else ""
        if value:
            if one is None:
                return value
            try:
                return one(value)
            except tf.TransformError as exc:
                ctx.problems.append(problem(str(exc), where_of(base, name), seg, element))
                return None
        return finish(ctx, scope, where_of(base, name), [value], seg)
    return single


def node_steps(node: dict[str, Any], source: Any) -> list[tuple[str, Any]]:
    """A field node's transforms and code table as (name, argument), in order; ConfigError for a malformed or
    unknown one (``source``: the mapping file, for the error's location)."""
    if "transform" not in node and not node.get("table"):
        return []
    out: list[tuple[str, Any]] = []
    raw = node.get("transform")
    items = raw if isinstance(raw, list) else ([raw] if raw else [])
    for item in items:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, dict) and len(item) == 1:
            out.append(next(iter(item.items())))
        else:
            raise ConfigError(f"transform {item!r} is not a name or a one-key mapping", location=Location(file=source))
    if node.get("table"):
        out.append(("table", node["table"]))
    for name, _ in out:
        if name not in tf.NAMES:
            raise ConfigError(f"unknown transform {name!r}", location=Location(file=source),
                              hint=f"allowed: {', '.join(sorted(tf.NAMES))}")
    return out
