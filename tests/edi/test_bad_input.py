"""Bad input never crashes, hangs or grows memory without bound: it ends in typed, located issues.

(Property-based variants of these live in ``test_properties.py``; these are the named, reproducible cases.)
"""

from __future__ import annotations

import random
import zlib

import pytest
from x12_corpus import corpus_files

from gateway.edi.x12 import Level, analyze, read_segments
from gateway.errors import DocumentError, EnvelopeError, NotEDIError, X12SyntaxError

OK_940 = next(p for p in corpus_files("940") if p.name == "ediengine-940-ok.edi").read_bytes()
OK_856 = next(p for p in corpus_files("856") if p.name == "edienginee-856-crossdock.edi").read_bytes()


def _isa(text: str) -> str:
    return text[:text.index("GS")]


@pytest.mark.parametrize("data", [
    pytest.param(random.Random(1).randbytes(1_000_000), id="random-1MB"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + random.Random(2).randbytes(5000), id="png"),
    pytest.param(zlib.compress(OK_940 * 50), id="compressed-x12"),
    pytest.param(b"\x00" * 100_000, id="nul-bytes"),
    pytest.param(b"Dear partner,\nplease find the ISA attached.\n" * 100, id="text-mentioning-isa"),
    pytest.param(b"", id="empty"),
])
def test_binary_junk_is_not_edi(data: bytes) -> None:
    a = analyze(data, file="in.bin")
    assert not a.valid and not a.interchanges
    first = a.errors[0]
    assert first.code == "not_edi" and first.location.file == "in.bin"
    exc = first.to_exception()
    assert isinstance(exc, NotEDIError)
    assert "in.bin" in str(exc.location.file)


def test_every_truncation_of_a_file_is_reported_with_a_position() -> None:
    text = OK_940.decode()
    segments = read_segments(text)
    for cut in range(len(_isa(text)) + 1, len(text) - 1, 7):
        a = analyze(text[:cut].encode(), file="cut.edi")
        assert not a.valid, cut
        envelope = [i for i in a.errors if i.level is Level.INTERCHANGE]  # IEA missing, or cut inside it
        assert envelope, cut
        assert {i.code for i in envelope} & {"iea_missing", "iea_control_mismatch", "iea_count_mismatch"}, cut
        assert envelope[0].file_segment is not None and envelope[0].file_segment <= len(segments)
        assert isinstance(envelope[0].to_exception(), EnvelopeError)


def test_truncated_isa_is_a_typed_envelope_error() -> None:
    for cut in (3, 10, 50, 104):
        a = analyze(OK_940[:cut])
        assert not a.valid
        for issue in a.errors:
            assert isinstance(issue.to_exception(), DocumentError)


def test_junk_between_interchanges_is_located() -> None:
    junk = b"\x00\xff garbage from a broken FTP transfer \xfe\n"
    a = analyze(OK_940 + b"\n" + junk + OK_940, file="two.edi")
    codes = [i.code for i in a.errors]
    assert "junk_data" in codes
    junk_issue = next(i for i in a.errors if i.code == "junk_data")
    assert junk_issue.file_segment == len(read_segments(OK_940))  # after the first interchange's IEA
    assert len(a.interchanges) == 2 and all(ic.groups for ic in a.interchanges)


def test_ten_megabytes_without_a_terminator() -> None:
    text = OK_940.decode()
    data = (_isa(text) + "GS*" + "A" * 10_000_000).encode()
    a = analyze(data, file="long.edi")
    assert not a.valid
    codes = {i.code for i in a.errors}
    assert "segment_too_long" in codes
    assert "iea_missing" in codes


def test_a_million_empty_segments() -> None:
    text = OK_940.decode()
    cut = text.index("W05")
    data = (text[:cut] + "~" * 1_000_000 + text[cut:]).encode()
    a = analyze(data)
    assert len(a.transactions) == 1  # '~' is data here (the file ends segments with newlines): one bad segment
    assert not a.valid


def _856_with_hl_loops(n: int, level: str) -> bytes:
    """The corpus cross-dock 856's envelope around one set of ``n`` HL loops with level code ``level``."""
    segments = read_segments(OK_856)
    d = segments[0].delimiters
    el, term = d.element, d.segment + d.suffix
    st_index = [s.id for s in segments].index("ST")
    head = [s.text for s in segments[:st_index + 1]]
    body = [f"BSN{el}00{el}SHIP001{el}20260401{el}1200", f"HL{el}1{el}{el}S"]
    body += [f"HL{el}{k}{el}1{el}{level}" for k in range(2, n + 1)]
    trailer = [f"SE{el}{len(body) + 2}{el}{segments[st_index].element(2)}",
               f"GE{el}1{el}{segments[1].element(6)}", f"IEA{el}1{el}{segments[0].element(13)}"]
    return term.join([*head, *body, *trailer]).encode() + term.encode()


def test_loop_repeated_beyond_its_maximum_is_located() -> None:
    """250,000 HL loops in one set (the 856 allows 200,000): reported from the first one too many."""
    a = analyze(_856_with_hl_loops(250_000, "I"))
    tx = a.transactions[0]
    assert not tx.valid and tx.segment_count == 250_000 + 3  # ST, BSN, the HLs, SE
    overflow = [i for i in tx.issues if i.code == "loop_max_exceeded"]
    assert overflow[0].location.segment_position == 200_001 + 2  # ST, BSN, then HL 1..200,000
    assert overflow[0].x12_code == "4" and overflow[0].location.loop == "HL"
    assert len(tx.issues) <= 200  # one issue per extra loop is counted, not all kept
    assert tx.error_count == 50_000


def test_issues_stay_bounded_and_every_error_is_counted() -> None:
    n = 20_000
    a = analyze(_856_with_hl_loops(n, "%"), max_issues=100)  # HL03 '%' is not a level code
    tx = a.transactions[0]
    assert len(a.issues) <= 100 and a.suppressed > 0
    assert len(tx.issues) <= 200
    assert tx.error_count == n - 1 and a.error_count >= tx.error_count
    element_issue = next(i for i in tx.issues if i.level is Level.ELEMENT)
    assert element_issue.location.element_position == 3 and element_issue.location.segment_position == 4
    assert isinstance(element_issue.to_exception(), X12SyntaxError)
