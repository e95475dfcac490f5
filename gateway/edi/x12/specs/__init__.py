"""Transaction set specifications shipped as data, and their loader.

Files (JSON, in this package):

* ``index.json``: which transaction sets exist for which versions, version aliases (later 004 releases are read
  with the 004010 facts), implementation-convention variants (``004010UCS``, ``004010VICS``) and the functional
  group (GS01) of each set;
* ``dictionary.<version>.json``: segments (element order, requirement, repeat, syntax notes), composites and
  simple elements (type, min/max length, code list) of a version;
* ``<set>.<version>.json``: the structure of a transaction set: segments and loops, requirement designator
  (``M``/``O``) and maximum use, in order. A loop is named after its first (trigger) segment;
* ``rules.<variant>.json``: rule overlays for implementation conventions (see :mod:`gateway.edi.x12.rules`).

``_derive.py`` regenerates the dictionaries and structures from the openly licensed references in the corpus.

:func:`library` returns the process-wide :class:`SpecLibrary` (loaded lazily, then cached: specifications are
immutable data, not configuration).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from gateway.edi.x12.rules import NO_RULES, Rules


@dataclass(frozen=True, slots=True)
class ElementDef:
    ref: str  # X12 data element reference number, e.g. "373"
    kind: str  # AN ID N0..N9 R R2.. DT TM B
    min: int
    max: int
    codes: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class CompositeDef:
    ref: str  # e.g. "C001"
    components: tuple[tuple[ElementDef, bool], ...]  # (definition, mandatory)


@dataclass(frozen=True, slots=True)
class ElementUse:
    position: int  # 1-based
    definition: ElementDef | CompositeDef
    mandatory: bool
    repeat: int = 1

    @property
    def composite(self) -> bool:
        return isinstance(self.definition, CompositeDef)


@dataclass(frozen=True, slots=True)
class SegmentDef:
    id: str
    elements: tuple[ElementUse, ...]
    syntax: tuple[str, ...] = ()


@dataclass(slots=True, eq=False)
class StructureNode:
    """A segment or loop position in a transaction set structure."""

    kind: str  # "segment" or "loop"
    id: str  # segment id, or loop id (its trigger segment)
    mandatory: bool
    max: int
    children: list[StructureNode] = field(default_factory=list)
    path: str = ""  # loop path, e.g. "HL/N1" ("" at the top level)

    @property
    def first(self) -> str:
        return self.children[0].id if self.kind == "loop" else self.id


@dataclass(slots=True, eq=False)
class TransactionSpec:
    id: str
    version: str
    name: str
    functional_group: str
    hierarchical: bool
    root: StructureNode
    segments: dict[str, SegmentDef]
    known_segments: frozenset[str]
    source: str = ""
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.id}/{self.version}"


def _read(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


class SpecLibrary:
    """Resolves ``(transaction set, GS08)`` to a :class:`TransactionSpec` and the variant's rules."""

    def __init__(self) -> None:
        index = _read("index.json")
        self._files: dict[str, str] = index["specs"]
        self._dictionary_files: dict[str, str] = index["dictionaries"]
        self._aliases: dict[str, str] = index["aliases"]
        self._variants: dict[str, str] = index["variants"]
        self.functional_groups: dict[str, str] = index["functional_groups"]
        self._dictionaries: dict[str, dict[str, Any]] = {}
        self._specs: dict[str, TransactionSpec] = {}
        self._variant_rules: dict[str, Rules] = {}
        self._control: dict[str, Any] | None = None
        self._control_sets: tuple[dict[str, frozenset[str]], frozenset[str]] | None = None
        self._functional_ids: dict[str, frozenset[str]] = {}

    # -- versions -------------------------------------------------------------------------------------------
    def base_version(self, gs08: str) -> str | None:
        """``"004010VICS"`` -> ``"004010"``, ``"004060"`` -> ``"004010"``, ``"005010X231"`` -> ``"005010"``;
        ``None`` when no specification covers the version."""
        head = gs08[:6]
        head = self._aliases.get(head, head)
        return head if head in self._dictionary_files else None

    def supports_version(self, gs08: str) -> bool:
        return self.base_version(gs08) is not None

    def variant_rules(self, gs08: str) -> Rules:
        name = self._variants.get(gs08.strip())
        if name is None:
            return NO_RULES
        if name not in self._variant_rules:
            self._variant_rules[name] = Rules.from_dict(_read(name))
        return self._variant_rules[name]

    def functional_ids(self, version: str = "004010") -> frozenset[str]:
        found = self._functional_ids.get(version)
        if found is None:
            found = self._functional_ids[version] = frozenset(self._dictionary(version)["elements"]["479"][3])
        return found

    def control_sets(self) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
        """The control code lists of :attr:`control` as sets (code list id -> codes) and the responsible agency
        codes, built once (every analysis checks its envelopes against them; do not change them)."""
        if self._control_sets is None:
            control = self.control
            self._control_sets = ({k: frozenset(v) for k, v in control["codes"].items()},
                                  frozenset(control["responsible_agency"]))
        return self._control_sets

    @property
    def control(self) -> dict[str, Any]:
        """Interchange control facts (``control.json``): ISA element layout and control code lists."""
        if self._control is None:
            self._control = _read("control.json")
        return self._control

    # -- specifications -------------------------------------------------------------------------------------
    def resolve(self, set_id: str, gs08: str) -> TransactionSpec | None:
        base = self.base_version(gs08)
        if base is None:
            return None
        key = f"{set_id}/{base}"
        if key not in self._files:
            return None
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specs[key] = self._load(key)
        return spec

    def available(self) -> list[str]:
        return sorted(self._files)

    def _dictionary(self, version: str) -> dict[str, Any]:
        d = self._dictionaries.get(version)
        if d is None:
            d = self._dictionaries[version] = _read(self._dictionary_files[version])
        return d

    def _load(self, key: str) -> TransactionSpec:
        data = _read(self._files[key])
        dictionary = self._dictionary(data["dictionary"])
        elements: dict[str, ElementDef] = {}

        def element(ref: str) -> ElementDef:
            if ref not in elements:
                kind, lo, hi, codes = dictionary["elements"][ref]
                elements[ref] = ElementDef(ref, kind, lo, hi, frozenset(codes) if codes else None)
            return elements[ref]

        segments: dict[str, SegmentDef] = {}
        for seg_id, raw in dictionary["segments"].items():
            uses = []
            for pos, entry in enumerate(raw["elements"], start=1):
                ref, req = entry[0], entry[1]
                repeat = entry[2] if len(entry) > 2 else 1
                definition: ElementDef | CompositeDef
                if ref.startswith("C"):
                    comps = tuple((element(c), r == "M") for c, r in dictionary["composites"][ref])
                    definition = CompositeDef(ref, comps)
                else:
                    definition = element(ref)
                uses.append(ElementUse(pos, definition, req == "M", repeat))
            segments[seg_id] = SegmentDef(seg_id, tuple(uses), tuple(raw.get("syntax", ())))

        def node(raw: dict[str, Any], path: str) -> StructureNode:
            if "loop" in raw:
                loop_path = f"{path}/{raw['loop']}" if path else raw["loop"]
                children = [node(c, loop_path) for c in raw["content"]]
                return StructureNode("loop", raw["loop"], raw["req"] == "M", raw["max"], children, loop_path)
            return StructureNode("segment", raw["segment"], raw["req"] == "M", raw["max"], [], path)

        root = StructureNode("loop", data["id"], True, 1, [node(c, "") for c in data["structure"]], "")
        known = frozenset(dictionary.get("known_segments", ())) | frozenset(segments)
        return TransactionSpec(
            id=data["id"],
            version=data["version"],
            name=data["name"],
            functional_group=data["functional_group"],
            hierarchical=bool(data.get("hierarchical")),
            root=root,
            segments=segments,
            known_segments=known,
            source=data.get("source", ""),
            notes=tuple(data.get("notes", ())),
        )


@lru_cache(maxsize=1)
def library() -> SpecLibrary:
    """The shipped specifications (loaded on first use)."""
    return SpecLibrary()
