"""A group's transaction sets kept compactly (gateway/edi/x12/sets.py): every set read back equals the object the
analysis made before it was stored as a row, over the whole corpus and the samples (fields, issues, the analysis'
JSON, the 997 and 999 built from it); sets stored as rows are read-only, and :meth:`hold` keeps a changed one; the
duplicate ST02 check that no longer remembers every ST02 of a group finds the same duplicates. The corpus' groups
are small (a group is compacted from COMPACT_FROM sets on): here every group is compacted from its first set."""

from __future__ import annotations

import copy
import dataclasses
import re
from datetime import datetime
from pathlib import Path

import pytest
from x12_corpus import corpus_files

from gateway.edi.x12 import AckOptions, SequentialControlNumbers, analyze, build_acknowledgement, envelope_set
from gateway.edi.x12.model import Analysis, Transaction
from gateway.edi.x12.sets import COMPACT_FROM, StoredTransaction, TransactionList, changeable

REPO = Path(__file__).resolve().parents[2]
WHEN = datetime(2024, 5, 1, 12, 30)
PATHS = corpus_files("856", "940", "945", "214", "997", "999", "envelope-variants", "invalid") + sorted(
    REPO.glob("samples/x12/*/*.edi"))
HARBOR = REPO / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
FIELDS = [f.name for f in dataclasses.fields(Transaction)]


@pytest.fixture(autouse=True)
def compact_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope_set, "COMPACT_FROM", 0)


def _objects(data: bytes, monkeypatch: pytest.MonkeyPatch) -> Analysis:
    """The analysis as it was before: every set the object the analysis made (none stored as a row)."""
    with monkeypatch.context() as m:
        m.setattr(TransactionList, "pack", lambda self, index: False)
        return analyze(data, tolerant=True)


def _fields(t: Transaction) -> tuple[object, ...]:
    return tuple([i.to_dict() for i in t.issues] if name == "issues" else getattr(t, name) for name in FIELDS)


def _acks(a: Analysis) -> list[object]:
    out: list[object] = []
    for kind in ("997", "999"):
        for ic in a.interchanges:
            try:
                out.append(build_acknowledgement(ic, control_numbers=SequentialControlNumbers(41, 7),
                                                 options=AckOptions(timestamp=WHEN, functional_ack=kind)))
            except ValueError as exc:
                out.append(("ValueError", str(exc)))
    return out


def _harbor(controls: list[str]) -> bytes:
    """The Harbor 856 sample with its one set repeated under each ST02/SE02 of ``controls`` (GE01 fixed)."""
    text = HARBOR.read_text()
    head, rest = text.split("ST*856*0001", 1)
    body, tail = rest.split("\nSE*", 1)
    count, tail = tail.split("*0001", 1)
    sets = "\n".join(f"ST*856*{c}{body}\nSE*{count}*{c}" for c in controls)
    tail = re.sub(r"GE\*1\*", f"GE*{len(controls)}*", tail)
    return (head + sets + tail).encode()


@pytest.mark.parametrize("path", PATHS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_set_reads_back_as_the_object_the_analysis_made(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    before, now = _objects(data, monkeypatch), analyze(data, tolerant=True)
    assert [_fields(t) for t in now.transactions] == [_fields(t) for t in before.transactions]
    assert now.to_dict() == before.to_dict()
    assert (now.valid, now.error_count) == (before.valid, before.error_count)
    for ic_now, ic_before in zip(now.interchanges, before.interchanges, strict=True):
        for g_now, g_before in zip(ic_now.groups, ic_before.groups, strict=True):
            assert g_now.valid == g_before.valid
            assert [t.ack_status for t in g_now.transactions] == [t.ack_status for t in g_before.transactions]
            n = len(g_now.transactions)
            assert [_fields(t) for t in g_now.transactions[1:]] == [_fields(t) for t in g_before.transactions[1:]]
            if n:
                assert _fields(g_now.transactions[-1]) == _fields(g_before.transactions[n - 1])
    assert _acks(now) == _acks(before)


def test_sets_without_issues_are_stored_as_rows_and_the_others_stay_objects() -> None:
    rows = objects = 0
    for path in PATHS:
        for ic in analyze(path.read_bytes(), tolerant=True).interchanges:
            for g in ic.groups:
                assert isinstance(g.transactions, TransactionList)
                for t in g.transactions:
                    plain = not t.issues and t.control_number.isdigit()  # then SE01, SE02 are as counted
                    assert isinstance(t, StoredTransaction) is plain, (path.name, t)
                    rows += plain
                    objects += not plain
                assert g.transactions.held_count() == sum(not isinstance(t, StoredTransaction)
                                                          for t in g.transactions)
    assert rows > 50 and objects > 50


def test_a_large_clean_group_keeps_no_object_per_set() -> None:
    controls = [f"{n:04d}" for n in range(1, 2001)]
    a = analyze(_harbor(controls))
    assert a.valid
    [sets] = [g.transactions for g in a.interchanges[0].groups]
    assert isinstance(sets, TransactionList) and len(sets) == 2000 and sets.held_count() == 0
    assert [t.control_number for t in sets] == controls == list(sets.control_numbers())
    assert [t.first_segment for t in sets[:3]] == [3, 3 + 57, 3 + 2 * 57]
    assert sets[-1].control_number == "2000" and sets[-2000].control_number == "0001"
    with pytest.raises(IndexError):
        sets[2000]


def test_a_stored_set_is_read_only_and_hold_keeps_the_changed_one() -> None:
    a = analyze(_harbor(["0001", "0002"]))
    sets = a.interchanges[0].groups[0].transactions
    t = sets[1]
    assert isinstance(t, StoredTransaction)
    with pytest.raises(AttributeError, match="stored compactly"):
        t.error_count = 1
    with pytest.raises(TypeError):
        t.issues.append(a.issues)  # type: ignore[arg-type]  # the shared empty list refuses too
    for c in (copy.copy(t), dataclasses.replace(t, error_count=1)):  # copies are plain objects
        assert type(c) is Transaction
        c.error_count += 1
    kept = changeable(sets, 1)
    kept.error_count = 1
    assert sets[1] is kept and not sets[1].valid and a.interchanges[0].groups[0].valid is False
    assert sets[0].valid and sets.held_count() == 1
    assert changeable([kept], 0) is kept  # a plain list of sets (a group made by hand) is changed in place


@pytest.mark.parametrize("controls, duplicates", [
    (["0001", "0002", "0003"], 0),
    (["0003", "0002", "0001"], 0),  # out of order, all different
    (["0001", "0002", "0001"], 1),
    (["0001", "0005", "0003", "0005", "0003"], 2),
    (["0001", "001", "00001", "0001"], 1),  # one number, different strings: only the same string repeats
    (["A001", "0001", "A001", "0002"], 1),  # not digits
    (["0001", "0002", "A001", "0002", "0003"], 1),
    (["000000001", "000000001"], 1),
])
def test_duplicate_control_numbers_are_found_whatever_the_order(controls: list[str], duplicates: int) -> None:
    a = analyze(_harbor(controls), tolerant=True)
    found = [i for i in a.issues if i.code == "st_control_duplicate"]
    assert len(found) == duplicates
    expected = [c for k, c in enumerate(controls) if c in controls[:k] and 4 <= len(c) <= 9]
    assert [i.transaction for i in found] == expected


def test_a_small_group_stays_a_list_of_objects_and_a_larger_one_is_compacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope_set, "COMPACT_FROM", COMPACT_FROM)  # as shipped
    small = analyze(_harbor([f"{n:04d}" for n in range(1, COMPACT_FROM + 1)]))
    [sets] = [g.transactions for g in small.interchanges[0].groups]
    assert type(sets) is list and len(sets) == COMPACT_FROM and all(type(t) is Transaction for t in sets)
    controls = [f"{n:04d}" for n in range(1, COMPACT_FROM + 2)]
    larger = analyze(_harbor(controls))
    [sets] = [g.transactions for g in larger.interchanges[0].groups]
    assert isinstance(sets, TransactionList) and sets.held_count() == 0 and larger.valid
    assert [t.control_number for t in sets] == controls
