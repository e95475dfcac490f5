"""The outbound half of the mapping engine: a canonical record (as a JSON-mode dict) becomes segments, built per
loop instance by :class:`Builder` and emitted in the order the transaction-set structure declares. The field
nodes are those of :mod:`gateway.mapping.engine`, read the other way round. :class:`Outbound` interprets them:
records are written through their compiled closures (:mod:`gateway.mapping.outcompiler`), which leave to it the
nodes they do not compile and are tested against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.mapping import transforms as tf
from gateway.mapping.engine import _PRODUCT_NAMES, Context, Problem, _empty
from gateway.mapping.paths import Path, parse_path


def hl_builder(base: Builder, loop: str, level: str, parent: str = "") -> Builder:
    """A new HL loop instance numbered after those already built below ``base``."""
    count = len(base.loops.get(loop, []))
    node = base.child(loop)
    node.segments.append(["HL", str(count + 1), parent, level])
    return node


# ---------------------------------------------------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class Builder:
    """Outbound: segments being built for one loop instance (elements as lists, element 0 the id)."""

    name: str
    segments: list[list[Any]] = field(default_factory=list)
    loops: dict[str, list[Builder]] = field(default_factory=dict)
    parent: Builder | None = None

    def child(self, name: str) -> Builder:
        node = Builder(name, parent=self)
        self.loops.setdefault(name, []).append(node)
        return node

    def up(self, count: int) -> Builder:
        node = self
        for _ in range(count):
            if node.parent is not None:
                node = node.parent
        return node

    def segment(self, path: Path, *, new: bool = False) -> list[Any]:
        target = self.up(path.up)
        if not new:
            for existing in target.segments:
                if existing[0] == path.segment and all(
                        (existing[pos] if pos < len(existing) else "") in values for pos, values in path.filters):
                    return existing
        seg: list[Any] = [path.segment]
        for pos, values in path.filters:
            _put(seg, pos, None, values[0])
        target.segments.append(seg)
        return seg

    def emit(self, structure: dict[str, list], name: str | None = None) -> list[list[Any]]:
        """This loop instance's segments in the order of its structure entry (segments of an id in the order
        built, each child loop's instances in turn), then the segments its entry does not name."""
        out: list[list[Any]] = []
        items = structure.get(name or self.name, [])
        by_id: dict[Any, list[list[Any]]] = {}
        for seg in self.segments:
            found = by_id.get(seg[0])
            if found is None:
                by_id[seg[0]] = [seg]
            else:
                found.append(seg)
        loops = self.loops
        named: set[Any] = set()
        for item in items:
            if isinstance(item, dict):
                for child in loops.get(item["loop"], ()):
                    out.extend(child.emit(structure))
            else:
                named.add(item)
                found = by_id.get(item)
                if found is not None:
                    out.extend(found)
        if not by_id.keys() <= named:
            out.extend(seg for seg in self.segments if seg[0] not in named)
        return out


def _put(seg: list[Any], element: int, component: int | None, value: str) -> None:
    while len(seg) <= element:
        seg.append("")
    if component is None:
        seg[element] = value
        return
    current = seg[element]
    comps = list(current) if isinstance(current, list) else ([current] if current else [])
    while len(comps) < component:
        comps.append("")
    comps[component - 1] = value
    seg[element] = comps


class Outbound(Context):
    """Canonical record (as a JSON-mode dict) -> segments, in the order the structure declares."""

    def write_fields(self, builder: Builder, fields: dict[str, Any], data: dict[str, Any], where: str = "") -> None:
        for name, node in fields.items():
            value = data if isinstance(node, dict) and node.get("merge") else data.get(name)
            self.write(builder, node, value, f"{where}.{name}" if where else name)

    def write(self, builder: Builder, node: Any, value: Any, where: str) -> None:
        node = self.resolve_node(node, where)
        if "const" in node or node.get("inbound_only"):
            return
        if "hook" in node:
            fn = self.hook(node["hook"]).outbound
            if fn:
                fn(self, builder, node, value, where)
            return
        if "concat" in node:
            self.write(builder, node["concat"][0], value, where)
            return
        if "each" in node:
            for index, item in enumerate(value or []):
                selector = node["each"]
                target = self.item_builder(builder, selector)
                if "value" in node:
                    self.write(target, node["value"], item, f"{where}[{index}]")
                else:
                    self.write_fields(target, self.group(node, where) or {}, item or {}, f"{where}[{index}]")
                self.settle(builder, target, selector)
            return
        group = self.group(node, where)
        if group is not None:
            if value:
                target = self.item_builder(builder, node["within"]) if "within" in node else builder
                self.write_fields(target, group, value, where)
            return
        if "values" in node:
            paths = [parse_path(t) for t in node["values"]]
            items = list(value or [])
            for start in range(0, len(items), len(paths)):
                seg = builder.segment(paths[0], new=True)
                for path, item in zip(paths, items[start:start + len(paths)], strict=False):
                    _put(seg, path.element, path.component, str(item))
            return
        if "qualified" in node:
            self.write_qualified(builder, node["qualified"], value or {}, where)
            return
        self.write_element(builder, node, value, where)

    def item_builder(self, builder: Builder, selector: str) -> Builder:
        base = builder.up(selector.count("../"))
        name = selector.replace("../", "")
        if name == ".":
            return base
        if name.startswith("HL:"):
            return hl_builder(base, self.spec.hl["loop"] if self.spec.hl else "HL", name[3:])
        parts = name.split("/")
        target = base
        for part in parts[:-1]:
            target = target.child(part)
        if self.is_loop(parts[-1]):
            return target.child(parts[-1])
        return Builder(parts[-1], parent=target)  # a segment item: settled into its loop afterwards

    def settle(self, builder: Builder, target: Builder, selector: str) -> None:
        last = selector.replace("../", "").split("/")[-1]
        if last == "." or last.startswith("HL:") or self.is_loop(last):
            return
        base = target.parent
        assert base is not None
        path = parse_path(last + ".01")
        for seg in target.segments:
            for pos, values in path.filters:
                if (seg[pos] if pos < len(seg) else "") == "":
                    _put(seg, pos, None, values[0])
            base.segments.append(seg)

    def write_element(self, builder: Builder, node: dict[str, Any], value: Any, where: str) -> None:
        texts = node["path"] if isinstance(node["path"], list) else [node["path"]]
        if _empty(value):
            if "default" in node:
                value = None
                parts = [str(node["default"])]
            else:
                if node.get("required"):
                    self.problems.append(Problem(f"required field {where!r} is empty", where))
                return
        else:
            try:
                parts = self.invert(value, node)
            except tf.TransformError as exc:
                self.problems.append(Problem(str(exc), where))
                return
        first = parse_path(texts[0])
        seg = builder.segment(first)
        for text, part in zip(texts, parts, strict=False):
            path = parse_path(text)
            target = seg if (path.segment == first.segment and path.filters == first.filters
                             and path.up == first.up) else builder.segment(path)
            if part != "" or path.element < len(target):
                _put(target, path.element, path.component, part)
        self.when_out(builder, node, seg)

    def when_out(self, builder: Builder, node: dict[str, Any], seg: list[Any]) -> None:
        when = node.get("when")
        if when and "equals" in when:
            path = parse_path(when["path"])
            if path.segment == seg[0]:
                _put(seg, path.element, path.component, str(when["equals"]))

    def invert(self, value: Any, node: dict[str, Any]) -> list[str]:
        current: Any = value
        for name, arg in reversed(self.transforms(node)):
            if name == "datetime":
                current = tf.from_datetime(str(current))
            elif name == "join":
                current = [str(current)]
            elif name == "date":
                current = tf.from_date(str(current))
            elif name == "time":
                current = tf.from_time(str(current))
            elif name == "decimal":
                current = tf.from_decimal(current)
            elif name == "table":
                current = tf.reverse_lookup(self.table(arg), str(current), strict=arg in self.strict, name=arg)
        if isinstance(current, list):
            return [str(c) for c in current]
        if isinstance(current, Decimal):
            current = tf.from_decimal(current)
        return [str(current)]

    def write_qualified(self, builder: Builder, spec: dict[str, Any], ids: dict[str, Any], where: str) -> None:
        fixed = spec.get("fixed") or {}
        for name, text in fixed.items():
            if ids.get(name):
                path = parse_path(text)
                _put(builder.segment(path), path.element, path.component, str(ids[name]))
        table = self.table(spec["table"]) if spec.get("table") else {}
        pending: list[tuple[str, str]] = []
        for name in spec.get("names") or _PRODUCT_NAMES:
            if ids.get(name) and name not in fixed:
                pending.append((tf.reverse_lookup(table, name), str(ids[name])))
        pending.extend((q, str(v)) for q, v in (ids.get("other") or {}).items())
        pairs = list(spec.get("pairs") or [])
        if len(pending) > len(pairs):
            self.problems.append(Problem(
                f"{len(pending)} qualified values but the segment has room for {len(pairs)}", where))
        for (qualifier, value), (qual_text, value_text) in zip(pending, pairs, strict=False):
            for text, part in ((qual_text, qualifier), (value_text, value)):
                path = parse_path(text)
                _put(builder.segment(path), path.element, path.component, part)
