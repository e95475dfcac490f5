"""Mapping files: loading, ``extends``/``reverse``, partner overrides and validation.

A mapping file (YAML, in ``mappings/<format>/<version>/<set>.<in|out>.yaml``)::

    format: x12            version: "004010"         set: "940"          direction: in
    record: order          # the canonical record type it produces or consumes
    extends: ../004010/945.in.yaml   # optional: start from another file and override keys (deep merge)
    reverse: 940.in.yaml   # (out files) write X12 with the inverse of an inbound file
    structure: {header: [W05, {loop: N1}, ...], N1: [N1, N2, N3, N4, PER], ...}
    hl: {loop: HL, levels: [S, O, T, P, I]}    # 856: the loop whose instances form the HL tree
    tables: {uom: {CA: case}, ...}             # code tables (code -> canonical word)
    strict_tables: [uom]                        # a code missing from these tables is a MappingError
    defs: {party: {...fields...}}               # named field groups used with `use:`
    fields: {order_number: {path: W05.02, required: true}, ...}
    hooks: [name, ...]                          # registered Python functions run after the fields

Field nodes are described in :mod:`gateway.mapping.engine`. Partner overrides (``partners/<id>.mapping.yaml``)::

    tables: {uom: {CS: case}}                   # merged into every set's tables
    strict_tables: [uom]
    sets:
      "940": {tables: {...}, fields: {purchase_order: "N9[01=PO].02"}, references: [...]}

``fields`` in an override replace the field of the same dotted name (``lines.uom``) or add it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import ConfigError, Location

MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "mappings"
_TOP_KEYS = {"format", "version", "set", "direction", "record", "extends", "reverse", "structure", "hl", "tables",
             "strict_tables", "defs", "fields", "hooks", "writer", "description"}
_OVERRIDE_KEYS = {"tables", "strict_tables", "sets", "description"}
_SET_OVERRIDE_KEYS = {"tables", "strict_tables", "fields", "description"}


@dataclass(slots=True)
class MappingSpec:
    """A loaded mapping (``extends`` resolved, overrides applied)."""

    data: dict[str, Any]
    source: str
    # engine caches keyed by id() of field nodes inside `data` (each entry keeps its node alive)
    checked: dict[int, Any] = field(default_factory=dict)
    transform_cache: dict[int, Any] = field(default_factory=dict)
    # a field given as a bare path string, as its node ({"path": ...}): one node per string, so the caches above
    # (keyed by node id) hold one entry per field, not one per mapped transaction set
    path_nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    compiled: Any = None  # the inbound closures (gateway.mapping.compiler.CompiledMapping), built on first use
    compiled_out: Any = None  # the outbound ones (gateway.mapping.outcompiler.OutboundCompiled), likewise

    @property
    def record(self) -> str:
        return str(self.data["record"])

    @property
    def set_id(self) -> str:
        return str(self.data["set"])

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def direction(self) -> str:
        return str(self.data["direction"])

    @property
    def structure(self) -> dict[str, list]:
        return self.data.get("structure") or {"header": []}

    @property
    def tables(self) -> dict[str, dict[str, str]]:
        return self.data.get("tables") or {}

    @property
    def strict_tables(self) -> set[str]:
        return set(self.data.get("strict_tables") or [])

    @property
    def fields(self) -> dict[str, Any]:
        return self.data.get("fields") or {}

    @property
    def defs(self) -> dict[str, Any]:
        return self.data.get("defs") or {}

    @property
    def hl(self) -> dict[str, Any] | None:
        return self.data.get("hl")

    @property
    def hooks(self) -> list[str]:
        return list(self.data.get("hooks") or [])

    @property
    def writer(self) -> dict[str, Any]:
        return self.data.get("writer") or {}


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read mapping file: {exc.strerror or exc}",
                          location=Location(file=str(path))) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", location=Location(file=str(path))) from exc
    if not isinstance(data, dict):
        raise ConfigError("a mapping file must be a YAML mapping", location=Location(file=str(path)))
    return data


def _load_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError("mapping files extend each other in a cycle", location=Location(file=str(path)))
    data = _read_yaml(path)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)}", location=Location(file=str(path)),
                          hint=f"allowed: {', '.join(sorted(_TOP_KEYS))}")
    base_name = data.pop("extends", None)
    if base_name:
        base = _load_raw(path.parent / base_name, (*seen, path))
        data = deep_merge(base, data)
    reverse = data.pop("reverse", None)
    if reverse:
        inbound = _load_raw(path.parent / reverse, (*seen, path))
        data = deep_merge({k: v for k, v in inbound.items() if k != "direction"}, data)
    for key in ("format", "version", "set", "direction", "record"):
        if key not in data:
            raise ConfigError(f"missing key {key!r}", location=Location(file=str(path)))
    return data


@lru_cache(maxsize=64)
def _load_cached(path: str, stamp: tuple[int, int]) -> dict[str, Any]:
    return _load_raw(Path(path))


def _stamp(path: Path) -> tuple[int, int]:
    """Modification time and size: an edited mapping file is read again (``extends`` targets are not tracked)."""
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def find_mapping(set_id: str, version: str, direction: str, *, root: Path | None = None) -> Path | None:
    """The file for ``set_id``/``version``: exact version, else the closest lower release of the same major
    version (``004030`` uses ``004010``), else the closest higher one."""
    base = (root or MAPPINGS_DIR) / "x12"
    wanted = version[:6] if version[:6].isdigit() else "004010"
    candidates = sorted(p.parent.name for p in base.glob(f"*/{set_id}.{direction}.yaml"))
    if not candidates:
        return None
    if wanted in candidates:
        chosen = wanted
    else:
        same_major = [c for c in candidates if c[:3] == wanted[:3]]
        lower = [c for c in same_major if c <= wanted]
        chosen = (lower or same_major or [c for c in candidates if c <= wanted] or candidates)[-1]
    return base / chosen / f"{set_id}.{direction}.yaml"


def load_mapping(path: Path, overrides: Mapping[str, Any] | None = None) -> MappingSpec:
    resolved = path.resolve()
    data = copy.deepcopy(_load_cached(str(resolved), _stamp(resolved)))
    if overrides:
        data = apply_overrides(data, overrides, source=str(path))
    return MappingSpec(data, str(path))


def load_overrides(path: Path) -> dict[str, Any]:
    """Read a partner override file (``partners/<id>.mapping.yaml``); a missing file means no overrides."""
    if not path.exists():
        return {}
    data = _read_yaml(path)
    unknown = set(data) - _OVERRIDE_KEYS
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)}", location=Location(file=str(path)),
                          hint=f"allowed: {', '.join(sorted(_OVERRIDE_KEYS))}")
    for set_id, part in (data.get("sets") or {}).items():
        bad = set(part or {}) - _SET_OVERRIDE_KEYS
        if bad:
            raise ConfigError(f"unknown keys {sorted(bad)} for set {set_id}", location=Location(file=str(path)))
    return data


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], *, source: str = "") -> dict[str, Any]:
    out = copy.deepcopy(data)
    parts = [overrides, (overrides.get("sets") or {}).get(str(out["set"])) or {}]
    for part in parts:
        for name, table in (part.get("tables") or {}).items():
            out.setdefault("tables", {}).setdefault(name, {}).update(table)
        if part.get("strict_tables"):
            out["strict_tables"] = sorted(set(out.get("strict_tables") or []) | set(part["strict_tables"]))
        for dotted, node in (part.get("fields") or {}).items():
            _set_field(out, dotted, node, source)
    return out


def _set_field(data: dict[str, Any], dotted: str, node: Any, source: str) -> None:
    """Replace ``lines.uom`` in ``fields`` (descending through ``fields`` of list/object nodes and ``use`` defs)."""
    names = dotted.split(".")
    container = data.setdefault("fields", {})
    for name in names[:-1]:
        child = container.get(name)
        if not isinstance(child, dict):
            raise ConfigError(f"override field {dotted!r}: {name!r} is not a list or object field",
                              location=Location(file=source, field=dotted))
        container = data.setdefault("defs", {})[child["use"]] if "use" in child else child.setdefault("fields", {})
    container[names[-1]] = node
