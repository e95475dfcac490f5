"""Mapping files are compiled once per loaded file into closures: reused across transaction sets and calls,
compiled again when the file changes, and a configuration error surfaces when the bad field is used."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from gateway.canonical import Order
from gateway.errors import ConfigError
from gateway.mapping import to_canonical
from gateway.mapping.spec import MAPPINGS_DIR
from gateway.mapping.x12 import mapping_for

ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*U*00401*000000001*0*P*>~\n"


def _orders(*sets: str) -> bytes:
    body = "".join(f"ST*940*{n:04d}~\n{s}SE*{s.count('~') + 2}*{n:04d}~\n" for n, s in enumerate(sets, 1))
    return (ISA + "GS*OW*SENDER*RECEIVER*20240101*1200*1*X*004010~\n" + body + f"GE*{len(sets)}*1~\n"
            "IEA*1*000000001~\n").encode()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(MAPPINGS_DIR, tmp_path / "mappings")
    return tmp_path / "mappings"


def test_a_mapping_is_compiled_once_and_reused(root: Path):
    data = _orders("W05*N*ORD-1*PO-1~LX*1~W01*5*CA**VN*A~", "W05*N*ORD-2~N9*ZZ*X~LX*1~W01*7*EA**VN*B~")
    first = to_canonical(data, root=root)
    spec = mapping_for("940", "004010", "in", root=root)
    assert spec is not None and spec.compiled is not None
    compiled, nodes = spec.compiled, dict(spec.compiled._nodes)
    again = to_canonical(data, root=root)
    assert again == first and all(isinstance(r, Order) for r in again)
    assert mapping_for("940", "004010", "in", root=root).compiled is compiled  # same closures, none added
    assert spec.compiled._nodes == nodes


def test_an_edited_mapping_file_is_compiled_again(root: Path):
    data = _orders("W05*N*ORD-1*PO-1~LX*1~W01*5*CA**VN*A~")
    (before,) = to_canonical(data, root=root)
    assert isinstance(before, Order) and before.purchase_order == "PO-1"
    path = root / "x12" / "004010" / "940.in.yaml"
    text = path.read_text().replace("  purchase_order: W05.03\n", "  purchase_order: W05.02\n")
    assert "purchase_order: W05.02" in text
    time.sleep(0.01)
    path.write_text(text)
    (after,) = to_canonical(data, root=root)
    assert isinstance(after, Order) and after.purchase_order == "ORD-1"


def test_a_bad_field_raises_when_it_is_used_not_before(root: Path):
    path = root / "x12" / "004010" / "940.in.yaml"
    text = path.read_text().replace("    fields: {qualifier: N9.01, value: N9.02, description: N9.03}\n",
                                    "    fields: {qualifier: N9.01, value: {path: N9.02, transform: rot13}}\n")
    assert "rot13" in text
    path.write_text(text)
    (order,) = to_canonical(_orders("W05*N*ORD-1~LX*1~W01*5*CA**VN*A~"), root=root)  # no N9: the field is unused
    assert isinstance(order, Order) and order.order_number == "ORD-1"
    with pytest.raises(ConfigError, match="unknown transform 'rot13'"):
        to_canonical(_orders("W05*N*ORD-2~N9*PO*X1~LX*1~W01*5*CA**VN*A~"), root=root)


def test_a_group_being_compiled_by_one_thread_is_waited_for_by_another():
    """Several inbound workers map with one compiled spec (PostgreSQL): a group met half-built (registered, its
    closure not yet filled in by the thread compiling it) waits for that thread instead of failing."""
    import threading

    from gateway.mapping.compiler import _GroupRef

    lock = threading.RLock()
    ref = _GroupRef(lock)
    got: list[object] = []
    lock.acquire()  # this thread is "compiling" the group
    try:
        other = threading.Thread(target=lambda: got.append(ref.call(None, None, "items")))  # type: ignore[arg-type]
        other.start()
        other.join(0.2)
        assert other.is_alive() and got == []  # waiting, not failing
        ref.fn = lambda ctx, scope, where: {"where": where}
    finally:
        lock.release()
    other.join(5)
    assert got == [{"where": "items"}]


def test_threads_mapping_with_one_fresh_spec_get_the_same_records(root: Path):
    import threading

    sets = [f"W05*N*ORD-{i}*PO-{i}~N1*ST*Store {i}~LX*1~W01*{i}*CA**VN*A{i}~" for i in range(1, 40)]
    data = _orders(*sets)
    expected = to_canonical(data, root=root)
    for n in range(3):
        path = root / "x12" / "004010" / "940.in.yaml"
        os.utime(path, ns=(time.time_ns(), time.time_ns() + n + 1))  # a changed file: a fresh spec, compiled anew
        results: list[object] = []
        errors: list[BaseException] = []

        def run(results: list[object] = results, errors: list[BaseException] = errors) -> None:
            try:
                results.append(to_canonical(data, root=root))
            except BaseException as exc:
                errors.append(exc)
        threads = [threading.Thread(target=run) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == [] and all(r == expected for r in results) and len(results) == 6
