"""Partner-specific rules layered on top of the X12 standard, as data.

A rule overlay is a mapping (from YAML or JSON; the partner loader reads the file, this module only validates
the data)::

    name: acme-warehouse
    unsupported_version: error          # or "warning": accept groups whose version has no specification
    transaction_sets:
      "856":
        severity: error                 # or "warning": report the partner rules without rejecting
        must_use: [CTT, HL/MAN]         # segments that must appear (LOOP/SEGMENT: inside that loop)
        required_elements: [BSN05]      # elements that must be present when their segment is
        codes:                          # allowed codes (a subset of the standard's)
          HL03: [S, O, P, I]
          "TD101": [CTN25, PLT94]

The implementation conventions UCS and VICS ship as overlays of this form (``specs/rules.004010*.json``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import ConfigError, Location

_ELEMENT_KEY = re.compile(r"^([A-Z][A-Z0-9]{1,2})(\d{2})(?:-(\d{1,2}))?$")
_MUST_USE = re.compile(r"^(?:([A-Z][A-Z0-9]{1,2})/)?([A-Z][A-Z0-9]{1,2})$")


def parse_element_key(key: str) -> tuple[str, int, int | None]:
    """``"BSN05"`` -> ``("BSN", 5, None)``; ``"MEA04-1"`` -> ``("MEA", 4, 1)``."""
    m = _ELEMENT_KEY.match(key)
    if m is None:
        raise ConfigError(f"{key!r} is not an element reference such as BSN05 or MEA04-1",
                          location=Location(field=key))
    return m.group(1), int(m.group(2)), int(m.group(3)) if m.group(3) else None


@dataclass(frozen=True, slots=True)
class SetRules:
    """Rules for one transaction set."""

    must_use: tuple[tuple[str | None, str], ...] = ()  # (loop id or None, segment id)
    required_elements: tuple[tuple[str, int], ...] = ()
    codes: Mapping[tuple[str, int], frozenset[str]] = field(default_factory=dict)
    severity: str = "error"

    @property
    def empty(self) -> bool:
        return not (self.must_use or self.required_elements or self.codes)


@dataclass(frozen=True, slots=True)
class Rules:
    """A partner's (or an implementation convention's) rules; :data:`NO_RULES` applies none."""

    name: str = ""
    transaction_sets: Mapping[str, SetRules] = field(default_factory=dict)
    unsupported_version: str = "error"

    def for_set(self, set_id: str) -> SetRules | None:
        rules = self.transaction_sets.get(set_id)
        return None if rules is None or rules.empty else rules

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rules:
        """Validate and build; raises :class:`gateway.errors.ConfigError` naming the bad field."""
        if not isinstance(data, Mapping):
            raise ConfigError("partner X12 rules must be a mapping")
        unknown = set(data) - {"name", "description", "unsupported_version", "transaction_sets"}
        if unknown:
            raise ConfigError(f"unknown keys in X12 rules: {', '.join(sorted(unknown))}",
                              location=Location(field=sorted(unknown)[0]))
        unsupported = data.get("unsupported_version", "error")
        if unsupported not in ("error", "warning"):
            raise ConfigError("unsupported_version must be 'error' or 'warning'",
                              location=Location(field="unsupported_version"))
        sets: dict[str, SetRules] = {}
        for set_id, raw in (data.get("transaction_sets") or {}).items():
            sets[str(set_id)] = _set_rules(str(set_id), raw)
        return cls(str(data.get("name", "")), sets, unsupported)

    def merged(self, other: Rules | None) -> Rules:
        """These rules with ``other``'s added (codes restricted by both, must-use from both)."""
        if other is None:
            return self
        sets = dict(self.transaction_sets)
        for set_id, theirs in other.transaction_sets.items():
            mine = sets.get(set_id)
            if mine is None:
                sets[set_id] = theirs
                continue
            codes = dict(mine.codes)
            for key, allowed in theirs.codes.items():
                codes[key] = codes[key] & allowed if key in codes else allowed
            sets[set_id] = SetRules(
                must_use=tuple(dict.fromkeys(mine.must_use + theirs.must_use)),
                required_elements=tuple(dict.fromkeys(mine.required_elements + theirs.required_elements)),
                codes=codes,
                severity="error" if "error" in (mine.severity, theirs.severity) else "warning",
            )
        name = "+".join(n for n in (self.name, other.name) if n)
        unsupported = "warning" if "warning" in (self.unsupported_version, other.unsupported_version) else "error"
        return Rules(name, sets, unsupported)


def _set_rules(set_id: str, raw: Any) -> SetRules:
    where = f"transaction_sets.{set_id}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping", location=Location(field=where))
    unknown = set(raw) - {"must_use", "required_elements", "codes", "severity"}
    if unknown:
        raise ConfigError(f"unknown keys in {where}: {', '.join(sorted(unknown))}", location=Location(field=where))
    must: list[tuple[str | None, str]] = []
    for item in raw.get("must_use", []) or []:
        m = _MUST_USE.match(str(item))
        if m is None:
            raise ConfigError(f"{where}.must_use: {item!r} is not SEG or LOOP/SEG", location=Location(field=where))
        must.append((m.group(1), m.group(2)))
    required: list[tuple[str, int]] = []
    for key in raw.get("required_elements", []) or []:
        seg, pos, _ = parse_element_key(str(key))
        required.append((seg, pos))
    codes: dict[tuple[str, int], frozenset[str]] = {}
    for key, values in (raw.get("codes") or {}).items():
        seg, pos, _ = parse_element_key(str(key))
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"{where}.codes.{key} must be a non-empty list", location=Location(field=where))
        codes[(seg, pos)] = frozenset(str(v) for v in values)
    severity = raw.get("severity", "error")
    if severity not in ("error", "warning"):
        raise ConfigError(f"{where}.severity must be 'error' or 'warning'", location=Location(field=where))
    return SetRules(tuple(must), tuple(required), codes, severity)


NO_RULES = Rules()
