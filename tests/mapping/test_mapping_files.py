"""Every shipped mapping file and partner override loads and passes the static check; version selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.mapping.engine import check_spec
from gateway.mapping.spec import MAPPINGS_DIR, find_mapping, load_mapping, load_overrides

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(p for p in MAPPINGS_DIR.glob("x12/*/*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_mapping_file_is_valid(path: Path):
    check_spec(load_mapping(path))


@pytest.mark.parametrize("override", sorted((ROOT / "partners").glob("*.mapping.yaml")), ids=lambda p: p.name)
def test_partner_overrides_apply_cleanly_to_every_mapping(override: Path):
    data = load_overrides(override)
    for path in FILES:
        check_spec(load_mapping(path, data))


def test_a_typo_in_a_mapping_is_named(tmp_path: Path):
    bad = tmp_path / "940.in.yaml"
    text = (MAPPINGS_DIR / "x12/004010/940.in.yaml").read_text()
    text = text.replace("extends: ../common.yaml", f"extends: {MAPPINGS_DIR}/x12/common.yaml")
    bad.write_text(text.replace("transform: decimal}", "transform: decimals}", 1))
    with pytest.raises(ConfigError, match="unknown transform 'decimals'"):
        check_spec(load_mapping(bad))
    bad.write_text("format: x12\nversion: '004010'\nset: '940'\ndirection: in\nrecord: order\n"
                   "fields: {order_number: {path: W05-02}}\n")
    with pytest.raises(ConfigError, match="not an element path"):
        check_spec(load_mapping(bad))


def test_version_selection():
    assert find_mapping("945", "005010", "in").parent.name == "005010"
    assert find_mapping("214", "004030", "in").parent.name == "004010"  # closest lower release
    assert find_mapping("856", "005010", "in").parent.name == "004010"  # no 005010 file: the 004010 one
    assert find_mapping("997", "004010", "in") is None
