"""Outbound mappings compiled into closures write exactly what the interpreter writes: the same segments (in the
same order, element for element), the same problems (message and field) and the same exceptions, on every sample
record, on records generated like bench/mapping.py's, on thousands of seeded mutations of them (values emptied,
removed or replaced by text a transform or a strict table refuses) and with partner overrides, including broken
ones (unknown transform or table, missing definition, malformed path) the compiler leaves to the interpreter; and
with the outbound flow's tracing (which field wrote which element, which element a problem is about)."""

from __future__ import annotations

import copy
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.flows.compose import _Tracing
from gateway.mapping import load_overrides, to_canonical
from gateway.mapping.crossset import adapt
from gateway.mapping.outbound import Builder, Outbound
from gateway.mapping.outcompiler import CompiledOutbound
from gateway.mapping.x12 import RECORD_OF_SET, mapping_for

ROOT = Path(__file__).resolve().parents[2]


class _InterpretedTracing(_Tracing):
    """The outbound flow's tracing context on the interpreter (its write_element/when_out overrides)."""

    tracing = False
    write_fields = Outbound.write_fields
    write = Outbound.write
sys.path.insert(0, str(ROOT / "bench"))

from mapping import make_214, make_856, make_940, make_945  # noqa: E402

SETS = {"order": [("940", "004010")], "shipment": [("945", "004010"), ("856", "004010"), ("945", "005010")],
        "status": [("214", "004010")]}
ODD = ["", "X", "0", "12.5", "abc", "2024-01-05", "2024-01-05T10:30", "2024-13-45", "pallet", "pack", "case",
       "original", "final", None, [], {}, "LB", "ZZ", "a" * 40]
BROKEN = {"tables": {"uom": {"EA": "each"}}, "strict_tables": ["uom", "purpose"], "sets": {
    "940": {"fields": {"purchase_order": {"path": "W05.03", "transform": "rot13"},
                       "order_number": {"path": "W05[01=N|X].02", "required": True, "default": "NONE"},
                       "master_reference": {"path": "bad path"},
                       "link_sequence": {"path": "W05.04", "table": "no_such_table"},
                       "notes": {"each": "NTE", "use": "no_such_def"},
                       "references": {"concat": [{"each": "N9", "fields": {"qualifier": "N9.01", "value": "N9.02"}},
                                                 {"each": "REF", "fields": {"qualifier": "REF.01"}}]}}},
    "214": {"fields": {"reference": {"path": ["B10.01", "B10.02"], "transform": {"join": " "}},
                       "carrier_scac": {"path": "B10.03", "when": {"path": "B10.03", "equals": "ABCD"}}}},
}}


def _records() -> list[dict[str, Any]]:
    out = []
    for path in sorted((ROOT / "samples" / "x12").glob("*/*.canonical.json")):
        out.extend(item for item in json.loads(path.read_text())["documents"] if isinstance(item, dict))
    for data in (make_856(3), make_940(3), make_945(3), make_214(3)):
        out.extend(r.model_dump(mode="json", exclude_none=True) for r in to_canonical(data))
    out.append(json.loads((ROOT / "tests" / "outbound" / "shipment.json").read_text()))
    records = [r for r in out if r.get("type") in SETS]
    assert len(records) > 40
    return records


def _mutate(record: Any, rng: random.Random) -> Any:
    """A copy of ``record`` with about one value in six removed or replaced (lists shortened or emptied)."""
    if isinstance(record, dict):
        out = {}
        for key, value in record.items():
            roll = rng.random()
            if roll < 0.08 and key != "type":
                continue
            if roll < 0.16 and key != "type":
                out[key] = rng.choice(ODD)
                continue
            out[key] = _mutate(value, rng)
        return out
    if isinstance(record, list):
        items = [_mutate(v, rng) for v in record]
        if items and rng.random() < 0.1:
            items = items[: rng.randrange(len(items))]
        return items
    return record


def _write(ctx_class: type[Outbound], record: dict[str, Any], set_id: str, version: str,
           overrides: dict[str, Any] | None) -> Any:
    """What :func:`gateway.mapping.x12.record_segments` does, with the given context class."""
    try:
        spec = mapping_for(set_id, version, "out", overrides)
        assert spec is not None
        data = adapt(copy.deepcopy(record), set_id)
        ctx = ctx_class(spec)
        builder = Builder("header")
        ctx.write_fields(builder, spec.fields, data)
        for name in spec.hooks:
            hook = ctx.hook(name)
            if hook.outbound:
                hook.outbound(ctx, builder, data)
        out = builder.emit(spec.structure)
        result: tuple[Any, ...] = (out, [(p.message, p.field, p.element) for p in ctx.problems])
        if isinstance(ctx, _Tracing):  # which field wrote which element, segments named by output position
            index = {id(seg): i for i, seg in enumerate(out)}
            origins = sorted((index.get(key, -1), pos, where) for (key, pos), where in ctx.origins.items())
            result += (origins, ctx.elements)
        return result
    except Exception as exc:  # the same exception is part of the same behaviour
        return type(exc).__name__, str(exc)


OVERRIDES = {"none": None, "acme-retail": load_overrides(ROOT / "partners" / "acme-retail.mapping.yaml"),
             "alink-carrier": load_overrides(ROOT / "partners" / "alink-carrier.mapping.yaml"), "broken": BROKEN}


@pytest.mark.parametrize("overrides", list(OVERRIDES), ids=list(OVERRIDES))
def test_compiled_outbound_writes_what_the_interpreter_writes(overrides: str):
    rng = random.Random(f"outbound-{overrides}")
    cases = 0
    kinds: set[str] = set()
    for record in _records():
        variants = [record] + [_mutate(record, rng) for _ in range(30)]
        for variant in variants:
            for set_id, version in SETS[record["type"]]:
                assert RECORD_OF_SET[set_id] == record["type"]
                expected = _write(Outbound, variant, set_id, version, OVERRIDES[overrides])
                got = _write(CompiledOutbound, variant, set_id, version, OVERRIDES[overrides])
                assert got == expected, (set_id, version, variant)
                traced = _write(_InterpretedTracing, variant, set_id, version, OVERRIDES[overrides])
                assert _write(_Tracing, variant, set_id, version, OVERRIDES[overrides]) == traced, (set_id, variant)
                assert traced[:2] == expected[:2]
                if len(traced) > 2 and traced[2]:
                    kinds.add("traced")
                cases += 1
                kinds.add("raised" if isinstance(expected[0], str) else "problems" if expected[1] else "clean")
    assert cases > 3000
    assert {"clean", "problems", "traced"} <= kinds
    if overrides == "broken":
        assert "raised" in kinds


def test_compiled_closures_are_built_once_per_spec():
    record = _records()[0]
    set_id = SETS[record["type"]][0][0]
    _write(CompiledOutbound, record, set_id, "004010", None)
    spec = mapping_for(set_id, "004010", "out")
    assert spec is not None and spec.compiled_out is not None
    compiled, nodes, groups = spec.compiled_out, dict(spec.compiled_out._nodes), dict(spec.compiled_out._groups)
    _write(CompiledOutbound, record, set_id, "004010", None)
    assert spec.compiled_out is compiled and compiled._nodes == nodes and compiled._groups == groups


def test_a_group_being_compiled_by_one_thread_is_waited_for_by_another():
    """The outbound flow may write with one spec from several threads: a group met half-built (registered, its
    closure not yet filled in by the thread compiling it) waits for that thread instead of failing."""
    import threading

    from gateway.mapping.outcompiler import OutboundCompiled

    spec = mapping_for("945", "004010", "out")
    assert spec is not None
    compiled = OutboundCompiled(spec)
    fields: dict[str, Any] = {"x": "W06/02"}
    cell: list[Any] = [None]
    got: list[Any] = []
    with compiled._lock:  # this thread is compiling the group: registered first, filled in below
        compiled._groups[id(fields)] = (fields, cell)
        write = compiled.group(fields)
        other = threading.Thread(target=lambda: write(None, None, {"x": 1}, "here"))  # type: ignore[arg-type]
        other.start()
        other.join(0.2)
        assert other.is_alive() and got == []  # waiting, not failing
        cell[0] = lambda ctx, builder, data, where: got.append((data, where))
    other.join(5)
    assert got == [({"x": 1}, "here")]
