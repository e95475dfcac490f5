"""build_scopes fills each scope's segment index and the header's loop instances while it groups the segments:
the same as computing them afterwards (Scope.ids, structure._instances), for every transaction set of the shipped
samples; segments without increasing positions (built in memory) leave the instances to be computed."""

from __future__ import annotations

from pathlib import Path

from gateway.edi.x12.segment import Segment
from gateway.mapping.compiler import compiled
from gateway.mapping.structure import Scope, _instances, build_scopes, instances, release
from gateway.mapping.x12 import iter_transactions, mapping_for

REPO = Path(__file__).resolve().parents[2]


def _walk(scope: Scope) -> list[Scope]:
    out = [scope]
    for children in scope.loops.values():
        for child in children:
            out.extend(_walk(child))
    return out


def _index(scope: Scope) -> dict[str, list[Segment]]:
    index: dict[str, list[Segment]] = {}
    for seg in scope.segments:
        index.setdefault(seg.id, []).append(seg)
    return index


def test_indexes_and_instances_as_computed_afterwards():
    checked = prefilled = 0
    for path in sorted(REPO.glob("samples/x12/*/*.edi")):
        for tx in iter_transactions(path.read_bytes()):
            spec = mapping_for(tx.set_id, tx.version, "in")
            if spec is None:
                continue
            loops = compiled(spec).loops
            header = build_scopes(tx.segments, loops)
            for scope in _walk(header):
                assert scope._index == _index(scope), path.name
                assert scope.by_id("N1") == _index(scope).get("N1", [])
            prefilled += header._instances is not None
            for loop in loops:
                assert instances(header, loop) == _instances(header, loop), (path.name, loop)
            release(header)
            checked += 1
    assert checked > 30 and prefilled == checked  # read from files: positions increase


def test_segments_without_positions_leave_instances_to_be_computed():
    spec = mapping_for("856", "004010", "in")
    assert spec is not None
    loops = compiled(spec).loops
    texts = ["BSN*00*S1*20240101", "HL*1**S", "N1*ST*A", "HL*2*1*O", "N1*BY*B", "PRF*PO1", "HL*3*2*I", "LIN**UP*1"]
    header = build_scopes([Segment(t) for t in texts], loops)  # positions all 0
    assert header._instances is None
    assert [s.segments[0].element(1) for s in instances(header, "HL")] == ["1", "2", "3"]
    assert [s.segments[0].element(2) for s in instances(header, "N1")] == ["A", "B"]
    positioned = build_scopes([Segment(t, position=i + 1) for i, t in enumerate(texts)], loops)
    assert positioned._instances is not None
    for loop in ("HL", "N1"):
        assert instances(positioned, loop) == _instances(positioned, loop)
