"""Mapping files are compiled once per loaded file into closures: reused across transaction sets and calls,
compiled again when the file changes, and a configuration error surfaces when the bad field is used."""

from __future__ import annotations

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
