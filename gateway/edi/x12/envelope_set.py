"""ST/SE steps of the envelope analysis (functions of :class:`~.envelope_state.EnvelopeState`): a transaction
set's header and trailer checks (identifier, control numbers, segment count), the specification and rules that
validate its body (the compiled checkers are shared process-wide, :mod:`.compiled`) and its closing."""

from __future__ import annotations

import sys

from gateway.edi.x12 import compiled
from gateway.edi.x12.delimiters import Delimiters
from gateway.edi.x12.envelope_state import EnvelopeState, number
from gateway.edi.x12.model import Group, Transaction
from gateway.edi.x12.sets import COMPACT_FROM, TransactionList
from gateway.edi.x12.specs import TransactionSpec
from gateway.edi.x12.validate import TransactionValidator


def start_set(st: EnvelopeState, els: list[str]) -> None:
    close_set(st, missing_trailer=True)
    if st.group is None:
        ic = st.ensure_interchange()
        if ic.enveloped:
            st.envelope_issue("interchange_content_invalid", "transaction set outside a functional group "
                              "(GS missing)", ic, "ST")
        set_id = els[1] if len(els) > 1 else ""
        g = Group(st.specs.functional_groups.get(set_id, ""), "", "", "", "", "", "", "", enveloped=False)
        ic.groups.append(g)
        st.group = g
        st.new_group()
    g = st.group
    k = len(els)
    # interned / shared strings: a file may hold hundreds of thousands of sets (see bench/x12_read.py)
    tx = Transaction(sys.intern(els[1]) if k > 1 else "", els[2] if k > 2 else "", segment_count=1,
                     implementation_reference=(els[3] or None) if k > 3 else None, first_segment=st.fs)
    sets = g.transactions
    if isinstance(sets, TransactionList):
        sets.append(tx)
    else:  # a plain list up to COMPACT_FROM sets (a small file's sets are read as they were made), then compact
        assert isinstance(sets, list)
        if len(sets) >= COMPACT_FROM:
            sets = g.transactions = TransactionList(sets)
        sets.append(tx)
    st.tx = tx
    st.pos = 1
    st.validator = None
    set_id, control = tx.set_id, tx.control_number
    if not (len(set_id) == 3 and set_id.isdigit()):
        st.set_issue("st_set_id_invalid", f"ST01 {set_id!r} is not a transaction set identifier", 1, "ST",
                     element=1, element_ref="143", bad_value=set_id)
    if not 4 <= len(control) <= 9:
        st.set_issue("st_control_invalid", f"ST02 {control!r} must be 4 to 9 characters", 1, "ST",
                     element=2, element_ref="329", bad_value=control)
    elif st.seen_set_control(control):
        st.set_issue("st_control_duplicate", f"ST02 {control!r} is used by an earlier set of the group", 1,
                     "ST", element=2, element_ref="329", bad_value=control)
    version = g.version if g.enveloped else st.default_version
    base = st.specs.base_version(version) if version else None
    if len(els) > 3 and els[3] and (base is None or base < "004020") and version[:6] < "004020":
        st.set_issue("element_too_many", f"ST03 {els[3]!r} exists only from version 004020 on", 1, "ST",
                     element=3, element_ref="1705", bad_value=els[3])
    if len(els) > 4 and any(els[4:]):
        st.set_issue("element_too_many", f"ST has {len(els) - 1} elements", 1, "ST", element=4)
    if base is None:
        return  # group version unsupported (reported on the GS)
    d = st.delims
    # what depends only on the set, version and delimiters, looked up once per analysis: the specification, the
    # partner's rules, the process-wide compiled checkers (gateway.edi.x12.compiled) and a validator to restart;
    # the previous set's first (most sets follow one of their kind)
    last = st.last_setup
    if last is not None and last[2] is d and last[0] == set_id and last[1] == version:
        setup = last[3]
    else:
        setup_key = (set_id, version, d)
        known = st.set_setups.get(setup_key)
        if known is None:
            known = st.set_setups[setup_key] = _setup(st, set_id, version, d)
        setup = known
        st.last_setup = (set_id, version, d, setup)
    spec, key, validator = setup
    if spec is None:
        st.set_issue("transaction_set_unsupported", f"no specification for transaction set {set_id!r} in "
                     f"version {base}: only its envelope was checked", 1, "ST", element=1)
        return
    tx.spec = key
    if g.enveloped and g.functional_id and spec.functional_group != g.functional_id:
        st.set_issue("st_group_mismatch", f"transaction set {set_id} belongs in a {spec.functional_group} "
                     f"group, not in {g.functional_id!r}", 1, "ST", element=1)
    assert validator is not None
    st.validator = validator.restart()


def _setup(st: EnvelopeState, set_id: str, version: str,
           d: Delimiters) -> tuple[TransactionSpec | None, str, TransactionValidator | None]:
    spec = st.specs.resolve(set_id, version)
    if spec is None:
        return None, "", None
    rules = st.merged_rules.get(version)
    if rules is None:
        rules = st.merged_rules[version] = st.specs.variant_rules(version).merged(st.rules)
    set_rules = rules.for_set(set_id)
    memo = (spec.key, id(set_rules), d.element, d.component, d.repetition)
    compiled_ = st.compiled_checks.get(memo)
    if compiled_ is None:  # the process-wide caches (gateway.edi.x12.compiled), looked up once per analysis
        compiled_ = st.compiled_checks[memo] = compiled.shared_for(
            spec.key, set_rules, st.tolerant, d.element, d.component, d.repetition)
    checkers, clean = compiled_
    return spec, sys.intern(spec.key), TransactionValidator(spec, st.set_issue, rules=set_rules, delimiters=d,
                                                            checkers=checkers, tolerant=st.tolerant, clean=clean)


def end_set(st: EnvelopeState, els: list[str], text: str) -> None:
    tx = st.tx
    if tx is None:
        st.envelope_issue("interchange_content_invalid", "SE without ST", st.group or st.ic, "SE")
        return
    st.pos += 1
    tx.segment_count = st.pos
    count = els[1] if len(els) > 1 else ""
    control = els[2] if len(els) > 2 else ""
    tx.declared_count = sys.intern(count)
    tx.trailer_control_number = tx.control_number if control == tx.control_number else control
    if st.validator is not None:
        st.validator.segment(els, text, st.pos)
    n = number(count)
    if n is None or len(count) > 10:
        st.set_issue("se_count_mismatch", f"SE01 {count!r} is not a segment count", st.pos, "SE",
                     element=1, element_ref="96", bad_value=count)
    else:
        if n != st.pos:
            st.set_issue("se_count_mismatch", f"SE01 says {n} segments, the transaction set has {st.pos}",
                         st.pos, "SE", element=1, element_ref="96", bad_value=count)
        if len(count) > 1 and count[0] == "0":
            st.set_issue("count_leading_zeros", f"SE01 {count!r} has leading zeros", st.pos, "SE",
                         element=1)
    if control != tx.control_number:
        st.set_issue("se_control_mismatch", f"SE02 {control!r} does not match ST02 {tx.control_number!r}",
                     st.pos, "SE", element=2, element_ref="329", bad_value=control)
    if len(els) > 3 and any(els[3:]):
        st.set_issue("element_too_many", f"SE has {len(els) - 1} elements", st.pos, "SE", element=3)
    finish_set(st, complete=True)


def finish_set(st: EnvelopeState, complete: bool) -> None:
    if st.validator is not None:
        st.validator.finish(complete)
    st.validator = None
    st.tx = None
    sets = st.group.transactions if st.group is not None else None
    if isinstance(sets, TransactionList):  # the set is complete: kept as a row of columns if it is plain
        sets.pack(len(sets) - 1)


def close_set(st: EnvelopeState, missing_trailer: bool) -> None:
    tx = st.tx
    if tx is None:
        return
    tx.segment_count = st.pos
    if missing_trailer:
        st.set_issue("se_missing", f"transaction set {tx.set_id} {tx.control_number} has no SE trailer",
                     st.pos, tx.set_id and "SE")
    finish_set(st, complete=False)
