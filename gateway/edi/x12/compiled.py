"""Process-wide caches of compiled validation: per-segment element checkers and known-clean segment texts (kept
by the validator's automata, :mod:`.validate`).

Compiling a segment's checker (:class:`~gateway.edi.x12.elements.SegmentChecker` generates its fast check with
``exec``) costs far more than validating one small file, so the checkers live here, shared by every analysis in
the process, keyed by what they depend on: the transaction set specification, the partner/convention rules for
that set (by content, not identity: rules objects are rebuilt per file) and the tolerant switch.

The caches hold immutable checkers and plain dicts; a checker compiled twice by two threads at once is harmless
(the second wins). Both are bounded: past :data:`MAX_KEYS` specification/rules combinations the cache starts over.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from gateway.edi.x12.rules import SetRules

if TYPE_CHECKING:
    from gateway.edi.x12.elements import SegmentChecker

MAX_KEYS = 1024

_checkers: dict[Hashable, dict[str, SegmentChecker]] = {}
_clean: dict[Hashable, dict[str, Any]] = {}


def rules_fingerprint(rules: SetRules | None) -> Hashable:
    """A hashable value equal for two rule sets that check the same things."""
    if rules is None:
        return None
    codes = tuple(sorted((k, tuple(sorted(v))) for k, v in rules.codes.items()))
    return (rules.must_use, rules.required_elements, codes, rules.severity)


def checkers_for(spec_key: str, rules: SetRules | None, tolerant: bool) -> dict[str, SegmentChecker]:
    """The shared segment-id -> checker dict for this specification, rules and tolerance (filled lazily)."""
    key = (spec_key, rules_fingerprint(rules), tolerant)
    found = _checkers.get(key)
    if found is None:
        if len(_checkers) >= MAX_KEYS:
            _checkers.clear()
        found = _checkers.setdefault(key, {})
    return found


def clean_for(spec_key: str, rules: SetRules | None, tolerant: bool, element: str, component: str | None,
              repetition: str | None) -> dict[str, Any]:
    """The shared dict of the validators that use the checkers of :func:`checkers_for` with these delimiters:
    their automata by specification, whose states remember the segment texts known to pass those checkers
    (bounded by the validator)."""
    key = (spec_key, rules_fingerprint(rules), tolerant, element, component, repetition)
    found = _clean.get(key)
    if found is None:
        if len(_clean) >= MAX_KEYS:
            _clean.clear()
        found = _clean.setdefault(key, {})
    return found


def shared_for(spec_key: str, rules: SetRules | None, tolerant: bool, element: str, component: str | None,
               repetition: str | None) -> tuple[dict[str, SegmentChecker], dict[str, Any]]:
    """:func:`checkers_for` and :func:`clean_for` together (the rules' fingerprint computed once)."""
    fingerprint = rules_fingerprint(rules)
    checkers = _checkers.get((spec_key, fingerprint, tolerant))
    clean = _clean.get((spec_key, fingerprint, tolerant, element, component, repetition))
    if checkers is None or clean is None:
        return (checkers_for(spec_key, rules, tolerant),
                clean_for(spec_key, rules, tolerant, element, component, repetition))
    return checkers, clean


def clear() -> None:
    """Forget everything compiled (tests; a specification change in a running process)."""
    _checkers.clear()
    _clean.clear()
