"""Built-in hooks: the 856 HL tree (inbound and outbound) and 945 package placement (outbound).

Inbound ``hl_tree`` links the HL loop instances (HL02, or by level order when HL02 is empty; an HL02 naming no
earlier HL is a MappingError at that HL), then maps each level with the mapping's ``defs``: ``order`` for O,
``package`` for T and P, ``line`` for I. A line belongs to its nearest O ancestor (lines without one form an order
of their own) and to the package of its nearest T/P ancestor; a package's ``parent`` is its nearest T/P ancestor.
Outbound writes S (from the mapping's ``within``), then per order O, its packages (pallet T before the packs it
holds) and the items under their package (or under O when they have none), and CTT with the HL count. A pallet or
carton holding items of several orders is written under each of them with the same SSCC, and read back as one
package (packages are identified by SSCC, tracking number or licence plate).
"""

from __future__ import annotations

from typing import Any

from gateway.mapping import transforms as tf
from gateway.mapping.engine import Inbound, Problem
from gateway.mapping.hooks import register
from gateway.mapping.outbound import Builder, Outbound, hl_builder
from gateway.mapping.structure import Scope, instances, link_hierarchy

_PACK_LEVELS = ("T", "P")


def _package_key(package: dict[str, Any]) -> str | None:
    return package.get("sscc") or package.get("tracking_number") or package.get("license_plate")


def hl_tree_in(ctx: Inbound, header: Scope, data: dict[str, Any]) -> None:
    hl = ctx.spec.hl or {"loop": "HL", "levels": ["S", "O", "T", "P", "I", "F"]}
    for orphan in link_hierarchy(header, hl["loop"], list(hl["levels"])):
        ctx.problems.append(Problem(
            f"HL {orphan.scope.first.element(1) if orphan.scope.first else '?'} names parent {orphan.parent_id!r}, "
            "which is no earlier HL (orphan in the HL tree)", "orders", orphan.scope.first, 2))
    nodes = instances(header, hl["loop"])
    # each node's nearest T/P and O ancestors, in one pass (an HL's parent always comes before it); the nodes of
    # each kind in document order
    pack_of: dict[Scope, Scope | None] = {}
    order_of: dict[Scope, Scope | None] = {}
    pack_nodes: list[Scope] = []
    order_nodes: list[Scope] = []
    item_nodes: list[Scope] = []
    for node in nodes:
        level = node._level
        if level is None:
            level = node.level
        if level in _PACK_LEVELS:
            pack_nodes.append(node)
        elif level == "O":
            order_nodes.append(node)
        elif level == "I":
            item_nodes.append(node)
        parent = node.hl_parent
        if parent is None:
            pack_of[node] = order_of[node] = None
            continue
        if parent not in pack_of:  # (not an instance of the loop: walk up the slow way)
            pack_of[node], order_of[node] = node.hl_ancestor(_PACK_LEVELS), node.hl_ancestor(("O",))
            continue
        plevel = parent._level
        if plevel is None:
            plevel = parent.level
        pack_of[node] = parent if plevel in _PACK_LEVELS else pack_of[parent]
        order_of[node] = parent if plevel == "O" else order_of[parent]
    group = ctx.compiled.group
    package_fields = group(ctx.spec.defs.get("package", {}))
    order_fields = group(ctx.spec.defs.get("order", {}))
    line_fields = group(ctx.spec.defs.get("line", {}))
    keys: dict[Scope, str] = {}
    by_key: dict[str, dict[str, Any]] = {}
    packages: list[dict[str, Any]] = []
    for node in pack_nodes:
        package = package_fields(ctx, node, f"packages[{len(packages)}]")
        holder = pack_of[node]
        if holder is not None and holder in keys:
            package["parent"] = keys[holder]
        key = _package_key(package)
        if key:
            keys[node] = key
            known = by_key.get(key)
            if known is not None:  # the same pallet/carton repeated under another order: one package
                for name, value in package.items():
                    known.setdefault(name, value)
                continue
            by_key[key] = package
        packages.append(package)
    orders: list[dict[str, Any]] = []
    by_node: dict[Scope, dict[str, Any]] = {}
    for node in order_nodes:
        order = order_fields(ctx, node, f"orders[{len(orders)}]")
        order["lines"] = []
        orders.append(order)
        by_node[node] = order
    loose: dict[str, Any] | None = None
    for node in item_nodes:
        owner = order_of[node]
        found = by_node.get(owner) if owner is not None else None
        if found is None:
            if loose is None:
                loose = {"lines": []}
                orders.append(loose)
            found = loose
        order = found
        line = line_fields(ctx, node, f"orders[{orders.index(order)}].lines")
        holder = pack_of[node]
        if holder is not None and holder in keys:
            line["package"] = keys[holder]
        order["lines"].append(line)
    data["orders"] = [{k: v for k, v in o.items() if v} for o in orders]
    data["packages"] = packages
    header_dates = data.pop("header_dates", [])
    if "ship_date" not in data:  # DTM*011 sent before the first HL
        for item in header_dates:
            if item.get("qualifier") == "011":
                data["ship_date"] = item["value"]
                header_dates = [d for d in header_dates if d is not item]
                break
    if header_dates:
        data["dates"] = header_dates + data.get("dates", [])


def hl_tree_out(ctx: Outbound, builder: Builder, data: dict[str, Any]) -> None:
    loop = (ctx.spec.hl or {}).get("loop", "HL")
    defs = ctx.spec.defs
    if not builder.loops.get(loop):
        hl_builder(builder, loop, "S")
    s_id = "1"
    level_table = ctx.tables.get("package_level", {})
    packages = {(_package_key(p) or f"#{i}"): p for i, p in enumerate(data.get("packages") or [])}
    emitted: set[str] = set()

    def level_of(package: dict[str, Any]) -> str:
        return tf.reverse_lookup(level_table, package["level"]) if package.get("level") else "P"

    def emit_package(key: str, default_parent: str) -> str:
        """Emit the package (after its pallet) once; returns its HL id."""
        package = packages[key]
        parent_id = default_parent
        parent_key = package.get("parent")
        if parent_key and parent_key in packages:
            parent_id = ids.get(parent_key) or emit_package(parent_key, default_parent)
        node = hl_builder(builder, loop, level_of(package), parent_id)
        ctx.write_fields(node, defs.get("package", {}), package, "packages")
        _fix_level(node, level_of(package))
        emitted.add(key)
        ids[key] = node.segments[0][1]
        return ids[key]

    ids: dict[str, str] = {}
    for index, order in enumerate(data.get("orders") or []):
        ids = {}  # a pallet or carton shared by several orders is repeated under each (same SSCC)
        parent = s_id
        if any(k != "lines" and v for k, v in order.items()):
            node = hl_builder(builder, loop, "O", s_id)
            ctx.write_fields(node, defs.get("order", {}), order, f"orders[{index}]")
            parent = node.segments[0][1]
        for line in order.get("lines") or []:
            key = line.get("package")
            holder = parent
            if key and key in packages:
                holder = ids[key] if key in ids else emit_package(key, parent)
            item = hl_builder(builder, loop, "I", holder)
            ctx.write_fields(item, defs.get("line", {}), line, f"orders[{index}].lines")
    ids = {}
    for key in packages:
        if key not in emitted:
            emit_package(key, s_id)
    builder.segments.append(["CTT", str(len(builder.loops.get(loop, [])))])


def _fix_level(node: Builder, level: str) -> None:
    """The package def maps HL03 to `level`; keep the HL segment well formed when it is absent."""
    hl = node.segments[0]
    if len(hl) < 4 or not hl[3]:
        while len(hl) < 4:
            hl.append("")
        hl[3] = level


def w945_packages_out(ctx: Outbound, builder: Builder, data: dict[str, Any]) -> None:
    """Write each package as N9*LV in the W12 loop of its line (``line_number``), or of the first line."""
    lx_loops = builder.loops.get("LX", [])
    for index, package in enumerate(data.get("packages") or []):
        target = None
        for lx in lx_loops:
            if lx.segments and lx.segments[0][0] == "LX" and len(lx.segments[0]) > 1 and \
                    lx.segments[0][1] == package.get("line_number"):
                target = lx
                break
        if target is None and lx_loops and not package.get("line_number"):
            target = lx_loops[0]
        if target is None or not target.loops.get("W12"):
            ctx.problems.append(Problem(f"package for line {package.get('line_number')!r} has no line to go with",
                                        f"packages[{index}].line_number"))
            continue
        value = package.get("license_plate") or package.get("sscc") or package.get("tracking_number") or ""
        seg = ["N9", "LV", value]
        if package.get("description"):
            seg.append(package["description"])
        target.loops["W12"][0].segments.append(seg)


register("hl_tree", inbound=hl_tree_in, outbound=hl_tree_out)
register("w945_packages", outbound=w945_packages_out)
