"""The usual acknowledgement (a 997 accepting the one set of a clean one-group interchange) is written from its
pieces, not through the segment writer: the same bytes and the same control numbers drawn as the general path, for
every interchange of the corpus and the samples, under options that change the envelope, and with values the
writer refuses (then the general path raises, as before)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest
from x12_corpus import corpus_files

from gateway.edi.x12 import AckOptions, SequentialControlNumbers, analyze, build_acknowledgement
from gateway.edi.x12 import ack as ack_module
from gateway.edi.x12.model import Interchange

REPO = Path(__file__).resolve().parents[2]
WHEN = datetime(2024, 5, 1, 12, 30)
VARIANTS = [
    {},
    {"functional_ack": "997"},
    {"ta1": "never"},
    {"version_997": "004010"},
    {"usage": "T", "sender_id": "OURID", "receiver_qualifier": "01", "receiver_id": "THEIRID"},
    {"application_sender": "APPSEND", "application_receiver": "  APPRECV  "},
    {"element_separator": "|", "segment_terminator": "\n", "suffix": ""},
    {"uppercase": True},
]


def _interchanges() -> list[Interchange]:
    paths = corpus_files("856", "940", "945", "214") + sorted(REPO.glob("samples/x12/*/*.edi"))
    return [ic for p in paths for ic in analyze(p.read_bytes(), tolerant=True).interchanges]


INTERCHANGES = _interchanges()


def _both(ic: Interchange, options: AckOptions, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object, int]:
    def build(general: bool) -> tuple[object, tuple[int, int]]:
        numbers = SequentialControlNumbers(41, 7)
        with monkeypatch.context() as m:
            if general:
                m.setattr(ack_module, "_accepted_set", lambda *_a: None)
            try:
                out: object = build_acknowledgement(ic, control_numbers=numbers, options=options)
            except ValueError as exc:
                out = ("ValueError", str(exc))
        return out, (numbers.interchange, numbers.group)

    usual = ack_module._accepted_set(ic, options, SequentialControlNumbers(41, 7))
    return build(False), build(True), usual is not None


@pytest.mark.parametrize("variant", range(len(VARIANTS)))
def test_the_usual_ack_is_the_general_paths_bytes(variant: int, monkeypatch: pytest.MonkeyPatch) -> None:
    options = AckOptions(timestamp=WHEN, **VARIANTS[variant])  # type: ignore[arg-type]
    usual = 0
    for ic in INTERCHANGES:
        fast, general, took = _both(ic, options, monkeypatch)
        assert fast == general
        usual += took
    if not VARIANTS[variant].get("uppercase"):
        assert usual >= 10  # the corpus' clean one-set 997s take the short way
    else:
        assert usual == 0


def test_a_value_holding_a_delimiter_is_refused_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    ic = analyze((REPO / "samples/x12/856/harbor-3pl-crossdock.edi").read_bytes()).interchanges[0]
    assert ack_module._accepted_set(ic, AckOptions(timestamp=WHEN), SequentialControlNumbers()) is not None
    odd = [
        dataclasses.replace(ic, receiver_id="REC*EIVER"),  # our ISA06/GS02: the GS refuses it
        dataclasses.replace(ic, groups=[dataclasses.replace(ic.groups[0], control_number="9~1")]),
        dataclasses.replace(ic, groups=[dataclasses.replace(
            ic.groups[0], transactions=[dataclasses.replace(ic.groups[0].transactions[0], control_number="0*1")])]),
    ]
    for bad in odd:
        fast, general, _took = _both(bad, AckOptions(timestamp=WHEN), monkeypatch)
        assert fast == general
    fast, general, took = _both(odd[0], AckOptions(timestamp=WHEN, application_sender="APP"), monkeypatch)
    assert fast == general and took  # the ISA is written padded, unchecked, as the writer does
