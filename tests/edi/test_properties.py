"""Property tests (hypothesis) for the X12 engine.

* Bad bytes never crash: the reader raises nothing but the gateway's own errors (in fact it reports instead of
  raising) and :func:`analyze` never raises, on arbitrary bytes, truncated or mutated corpus files.
* ``write(read(x))`` keeps the segments, for generated segment lists with all kinds of delimiters (``~`` as
  element separator, ``|``, newline terminators, the multi-byte U+2026 terminator, suffixes after terminators).
* The validator's fast paths (compiled element checks, the memo of clean segments) never change a result:
  the analysis of a mutated corpus file is the same with and without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from x12_corpus import corpus_files

from gateway.edi.x12 import (
    Delimiters,
    Envelope,
    GroupSpec,
    WriterOptions,
    X12Reader,
    analyze,
    read_segments,
    write_interchange,
    write_segments,
)
from gateway.edi.x12.validate import TransactionValidator
from gateway.errors import GatewayError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CORPUS = corpus_files("856", "940", "945", "214", "997", "999", "invalid", "envelope-variants")
CORPUS_BYTES = {p.name: p.read_bytes() for p in CORPUS}


def _read_all(data: bytes) -> list[Any]:
    try:
        return [(s.id, s.elements) for s in X12Reader(data, chunk_size=97)]
    except GatewayError:  # allowed by the contract; the reader currently reports everything instead
        return []


def _analyze_never_raises(data: bytes, tolerant: bool) -> None:
    a = analyze(data, tolerant=tolerant)
    a.to_dict()  # the JSON view too
    if not a.valid:
        assert a.errors or a.suppressed
        for issue in a.errors[:5]:
            exc = issue.to_exception()
            assert isinstance(exc, GatewayError)
            assert issue.describe()


# ---------------------------------------------------------------------------------------------------- bad bytes
@SETTINGS
@given(st.binary(max_size=2000), st.booleans())
def test_arbitrary_bytes_never_crash(data: bytes, tolerant: bool) -> None:
    _read_all(data)
    _analyze_never_raises(data, tolerant)


@SETTINGS
@given(st.sampled_from(sorted(CORPUS_BYTES)), st.data())
def test_truncated_and_mutated_corpus_files_never_crash(name: str, data: st.DataObject) -> None:
    raw = CORPUS_BYTES[name]
    cut = data.draw(st.integers(0, len(raw)), label="cut")
    mutated = bytearray(raw[:cut])
    for _ in range(data.draw(st.integers(0, 4), label="mutations")):
        if not mutated:
            break
        pos = data.draw(st.integers(0, len(mutated) - 1))
        action = data.draw(st.sampled_from(["replace", "insert", "delete", "repeat"]))
        if action == "replace":
            mutated[pos] = data.draw(st.integers(0, 255))
        elif action == "insert":
            mutated[pos:pos] = data.draw(st.binary(min_size=1, max_size=20))
        elif action == "delete":
            del mutated[pos:pos + data.draw(st.integers(1, 50))]
        else:
            mutated[pos:pos] = mutated[pos:pos + 200] * data.draw(st.integers(1, 5))
    _read_all(bytes(mutated))
    _analyze_never_raises(bytes(mutated), data.draw(st.booleans(), label="tolerant"))


def test_ten_megabyte_segment_is_skipped_with_a_located_issue() -> None:
    """A 10 MB segment inside a set: skipped (never buffered whole), reported at its position; the rest of the
    file is still read (the following segments and trailers are found)."""
    text = CORPUS_BYTES["ediengine-940-ok.edi"].decode()  # newline-terminated
    original = read_segments(text)
    position = [s.id for s in original].index("N9") - [s.id for s in original].index("ST") + 1
    data = text.replace("N9*BR*R1121", "N9*BR*" + "X" * 10_000_000).encode()
    a = analyze(data)
    too_long = [i for i in a.issues if i.code == "segment_too_long"]
    assert len(too_long) == 1
    issue = too_long[0]
    assert issue.location.segment_position == position and issue.location.segment_id == "N9"
    assert issue.transaction == "0001" and issue.x12_code == "8"
    assert [t.valid for t in a.transactions] == [False]
    assert {i.code for i in a.errors} == {"segment_too_long"}  # the trailers after it are read: counts match
    assert isinstance(issue.to_exception(), GatewayError)


# ---------------------------------------------------------------------------------------------------- round trip
ELEMENT = ["*", "|", "~", "^", "+", "\x1d", "!"]
COMPONENT = [">", ":", "\\", "<", "\x1f"]
REPETITION = ["^", "{", "`"]
TERMINATOR = ["~", "\n", "'", "\u2026", "\x1c", "!", "|"]
SUFFIX = ["", "\n", "\r\n"]
SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .-/#&()@,=%?"


@st.composite
def delimiters(draw: st.DrawFn) -> tuple[Delimiters, str]:
    element = draw(st.sampled_from(ELEMENT))
    terminator = draw(st.sampled_from([t for t in TERMINATOR if t != element]))
    component = draw(st.sampled_from([c for c in COMPONENT if c not in (element, terminator)]))
    version = draw(st.sampled_from(["00401", "00501"]))
    repetition = None
    if version >= "00402":
        repetition = draw(st.sampled_from([r for r in REPETITION if r not in (element, terminator, component)]))
    suffix = "" if terminator == "\n" else draw(st.sampled_from(SUFFIX))
    d = Delimiters(element, component, repetition, terminator, suffix)
    assert d.problems() == []
    return d, version


def _value(d: Delimiters) -> st.SearchStrategy[str]:
    alphabet = "".join(c for c in SAFE if c not in (d.element, d.component, d.repetition, d.segment))
    return st.text(alphabet, max_size=12).map(str.strip)


@st.composite
def body(draw: st.DrawFn, d: Delimiters) -> list[list[Any]]:
    segs: list[list[Any]] = []
    seg_id = st.from_regex(r"[A-Z][A-Z0-9]{1,2}", fullmatch=True).filter(
        lambda s: s not in ("ISA", "IEA", "GS", "GE", "ST", "SE", "TA1", "ISB", "ISE", "ISX"))
    for _ in range(draw(st.integers(1, 12))):
        values: list[Any] = [draw(seg_id)]
        for _ in range(draw(st.integers(1, 8))):
            if draw(st.integers(0, 5)) == 0:
                comps = draw(st.lists(_value(d), min_size=2, max_size=4))
                if not any(comps):
                    comps[0] = "C"
                values.append(comps)
            else:
                values.append(draw(_value(d)))
        if values[-1] in ("", []) or (isinstance(values[-1], list) and not values[-1][-1]):
            values.append("END")
        segs.append(values)
    return segs


def _expected(seg: list[Any], d: Delimiters) -> list[str]:
    out = [v if isinstance(v, str) else (d.component or ":").join(v).rstrip(d.component or ":") for v in seg]
    while len(out) > 1 and out[-1] == "":
        out.pop()
    return out


def _envelope(version: str, control: int) -> Envelope:
    return Envelope("ZZ", "SENDER", "ZZ", "RECEIVER", "20260401", "1200", control, version=version)


@SETTINGS
@given(st.data())
def test_write_read_round_trip_keeps_segments(data: st.DataObject) -> None:
    d, version = data.draw(delimiters(), label="delimiters")
    sets = data.draw(st.lists(body(d), min_size=1, max_size=3), label="sets")
    control = data.draw(st.integers(1, 999_999_999), label="control")
    gs_version = "004010" if version == "00401" else "005010"
    group = GroupSpec("SH", gs_version, 7, [("856", s) for s in sets])
    raw = write_interchange(_envelope(version, control), [group], WriterOptions(delimiters=d))
    segments = read_segments(raw)
    assert segments[0].delimiters.element == d.element
    assert segments[0].delimiters.segment == d.segment
    assert segments[0].delimiters.component == d.component
    assert segments[0].delimiters.repetition == d.repetition
    bodies = [s for s in segments if s.id not in ("ISA", "GS", "ST", "SE", "GE", "IEA")]
    assert [s.elements for s in bodies] == [_expected(seg, d) for s in sets for seg in s]
    # read -> write with the same delimiters -> the same bytes, and the same segments again
    again = write_segments(segments, WriterOptions(delimiters=segments[0].delimiters))
    assert again == raw
    # the envelope the writer generated is correct: counts and control numbers
    a = analyze(raw)
    envelope_codes = {i.code for i in a.issues} & {
        "se_count_mismatch", "se_control_mismatch", "ge_count_mismatch", "ge_control_mismatch",
        "iea_count_mismatch", "iea_control_mismatch", "isa_not_fixed_width", "isa_malformed", "iea_missing"}
    assert envelope_codes == set()
    assert [t.segment_count for t in a.transactions] == [len(s) + 2 for s in sets]


# ---------------------------------------------------------------------------------------------------- fast paths
def _slow_run(self: TransactionValidator, batch: list[Any], i: int, position: int) -> int:
    return i  # no fast path: every segment through TransactionValidator.segment and the full element checks


def _analysis_without_fast_paths(data: bytes, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as m:
        m.setattr(TransactionValidator, "run", _slow_run)
        m.setattr("gateway.edi.x12.elements.SegmentChecker.__init__", _init_without_fast)
        return analyze(data).to_dict()


_ORIGINAL_INIT = __import__("gateway.edi.x12.elements", fromlist=["SegmentChecker"]).SegmentChecker.__init__


def _init_without_fast(self: Any, *args: Any, **kwargs: Any) -> None:
    _ORIGINAL_INIT(self, *args, **kwargs)
    self.fast = lambda els, text, component, repetition: False


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_fast_paths_do_not_change_corpus_results(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    assert analyze(data).to_dict() == _analysis_without_fast_paths(data, monkeypatch)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from([p.name for p in corpus_files("856", "940", "945", "214", "997", "999")]),
       data=st.data())
def test_fast_paths_do_not_change_results_on_mutated_sets(
    name: str, data: st.DataObject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Segments duplicated, dropped, swapped and elements altered inside sets: same analysis either way."""
    segments = read_segments(CORPUS_BYTES[name])
    d = segments[0].delimiters
    values = [list(s.elements) for s in segments]
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        k = data.draw(st.integers(1, len(values) - 1))
        action = data.draw(st.sampled_from(["dup", "drop", "swap", "element", "empty"]))
        if action == "dup":
            values.insert(k, list(values[k]))
        elif action == "drop" and len(values) > 2:
            del values[k]
        elif action == "swap" and k + 1 < len(values):
            values[k], values[k + 1] = values[k + 1], values[k]
        elif len(values[k]) > 1:
            e = data.draw(st.integers(1, len(values[k]) - 1))
            values[k][e] = "" if action == "empty" else data.draw(st.sampled_from(["X", "99999999999", "-1", "Z9"]))
    text = "".join(d.element.join(v) + d.segment + d.suffix for v in values)
    raw = text.encode("utf-8", "surrogateescape")
    assert analyze(raw).to_dict() == _analysis_without_fast_paths(raw, monkeypatch)
