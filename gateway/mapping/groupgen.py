"""A field group's closure generated as one Python function: the fields a group reads straight from its own scope
(an element, an element behind one qualifier condition, an element through one transform or code table; see
:class:`~gateway.mapping.leaf.Inline`) are read inline, the others are called; values are stored as
:func:`gateway.mapping.compiler` stores them (empty values dropped, ``merge`` objects merged).

The source is built only from generated names and the integers of parsed element paths; segment ids, field names,
qualifier values and functions are passed in the function's namespace, never pasted into the source.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from gateway.mapping import transforms as tf
from gateway.mapping.access import GroupFn, NodeFn, empty, problem, where_of
from gateway.mapping.leaf import Inline


def _store(out: dict[str, Any], name: str, value: Any, merge: bool) -> None:
    """The rare cases of storing a field's value (not a plain string, list or number)."""
    if merge and isinstance(value, dict):
        out.update(value)
    elif not empty(value):
        out[name] = value


def _transform_problem(element: int) -> Callable[..., None]:
    def report(ctx: Any, where: str, name: str, exc: Exception, seg: Any) -> None:
        ctx.problems.append(problem(str(exc), where_of(where, name), seg, element))
    return report


_STORE = """\
    if v is not None:
        t = type(v)
        if t is str or t is list:
            if v:
                out[N{k}] = v
        elif t is dict and not M{k}:
            if v:
                out[N{k}] = v
        elif t is Decimal:
            out[N{k}] = v
        else:
            STORE(out, N{k}, v, M{k})"""


# What a field's closure needs in the scope to give a value: ("segment", id) a segment of that id in the scope's own
# segments, ("loop", name) an instance of that loop directly below it. Without it the value is empty (so nothing is
# stored, no problem reported): the generated code does not call the closure.
Need = tuple[str, str]


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


def generate_group(items: list[tuple[str, NodeFn, bool]], inline: dict[int, tuple[NodeFn, Inline]],
                   needs: dict[int, tuple[NodeFn, Need]] | None = None) -> GroupFn:
    """The group function of ``items`` (name, field closure, merge flag), in the fields' order; ``needs``: the
    closures' :data:`Need` by id (each entry keeps its closure alive)."""
    ns: dict[str, Any] = {"Decimal": Decimal, "STORE": _store, "TransformError": tf.TransformError}
    body: list[str] = []
    uses_index = False
    uses_loops = False
    for k, (name, fn, merge) in enumerate(items):
        ns[f"N{k}"], ns[f"M{k}"] = name, merge
        found = inline.get(id(fn))
        spec = found[1] if found is not None and found[0] is fn and not merge else None
        if spec is None:
            ns[f"F{k}"] = fn
            call = f"    v = F{k}(ctx, scope, where, N{k})\n" + _STORE.format(k=k)
            need = needs.get(id(fn)) if needs is not None else None
            if need is not None and need[0] is fn:
                kind, what = need[1]
                ns[f"R{k}"] = what
                if kind == "segment":
                    uses_index = True
                    body.append(f"    if R{k} in idx:")
                else:
                    uses_loops = True
                    body.append(f"    if loops.get(R{k}):")
                body.append(_indent(call))
            else:
                body.append(call)
            continue
        uses_index = True
        ns[f"S{k}"] = spec.segment
        e = int(spec.element)
        if spec.kind == "plain":
            body += [f"    f = idx.get(S{k})",
                     "    if f:",
                     "        e = f[0].elements",
                     f"        if {e} < len(e):",
                     f"            v = e[{e}].strip()",
                     "            if v:",
                     f"                out[N{k}] = v"]
        elif spec.kind == "filtered":
            q = int(spec.filter_pos)
            ns[f"V{k}"] = spec.filter_values
            body += [f"    for g in idx.get(S{k}, ()):",
                     "        e = g.elements",
                     f"        if (e[{q}].strip() if {q} < len(e) else '') in V{k}:",
                     f"            if {e} < len(e):",
                     f"                v = e[{e}].strip()",
                     "                if v:",
                     f"                    out[N{k}] = v",
                     "            break"]
        else:
            ns[f"C{k}"], ns[f"Z{k}"], ns[f"X{k}"] = spec.convert, spec.finish, _transform_problem(e)
            body += [f"    f = idx.get(S{k})",
                     "    if f:",
                     "        g = f[0]",
                     "        e = g.elements",
                     f"        v = e[{e}].strip() if {e} < len(e) else ''",
                     "    else:",
                     "        g = None",
                     "        v = ''",
                     "    if v:",
                     "        try:",
                     f"            v = C{k}(v)",
                     "        except TransformError as exc:",
                     f"            v = X{k}(ctx, where, N{k}, exc, g)",
                     "    else:",
                     f"        v = Z{k}(ctx, scope, WHERE(where, N{k}), [v], g)",
                     _STORE.format(k=k)]
            ns["WHERE"] = where_of
    head = ["def group(ctx, scope, where):", "    out = {}"]
    if uses_index:
        head += ["    idx = scope._index", "    if idx is None:", "        idx = scope.ids()"]
    if uses_loops:
        head += ["    loops = scope.loops"]
    source = "\n".join([*head, *body, "    return out"])
    exec(compile(source, "<mapping field group>", "exec"), ns)  # noqa: S102 - see the module docstring
    group: GroupFn = ns["group"]
    return group
