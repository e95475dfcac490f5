"""The hand-off of a batch of small files builds its events from what the mapping step kept (records as read back,
keys known when the record parses back to itself) instead of reading the archived canonical JSON back: the events
must be the same bytes as those built from the archive, for the shipped samples, the corpus, generated sets and
records whose required values were emptied (their text no longer parses back: no keys, as from the archive)."""

import io
import json
import random
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.canonical import Note, Order, Reference, Shipment, business_keys, parse_record
from gateway.canonical.jsonio import _indented, iter_documents, record_text
from gateway.errors import MappingError
from gateway.flows.batching import KeySink
from gateway.flows.handoff import _keys_of
from gateway.flows.mapping_step import KEEP_RECORDS, _Tally
from gateway.handoff.events import (
    RECORD_EVENT_TYPES,
    _record_head,
    compact_record,
    head_text,
    iter_kept_record_events,
    iter_record_events,
)
from gateway.mapping import iter_canonical
from gateway.store.batch import Batch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "mapping"))

from mapping import make_856, make_940  # noqa: E402
from test_record_text import _generated_records, _mutate, _sample_records  # noqa: E402

AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _x12_sources(corpus: Path) -> list[tuple[str, bytes]]:
    paths = sorted((REPO / "samples").glob("x12/*/*.edi")) + sorted(corpus.rglob("*.edi"))
    return [(p.name, p.read_bytes()) for p in paths] + [("gen-856", make_856(7)), ("gen-940", make_940(5))]


def _events(documents, known=None, set_ids=()):
    return [e.to_bytes() for e in iter_record_events(message_id=42, partner="p", documents=documents,
                                                     set_ids=list(set_ids), keys_of=_keys_of, occurred_at=AT,
                                                     known_keys=known)]


def test_kept_entries_give_the_events_the_archive_gives(store, corpus):
    checked = compacted = 0
    for name, data in _x12_sources(corpus):
        tally = _Tally(KeySink(store, 1, Batch()), keep=True)
        try:
            written = b"".join(tally.documents(iter_canonical(data, file=name)))
        except Exception:  # a file the engine cannot read at all: the mapping step fails it, nothing is kept
            continue
        archived = list(iter_documents(io.BytesIO(written)))
        if tally.kept is None:
            assert len(archived) > KEEP_RECORDS
            continue
        kept = [json.loads(t) if t is not None else None for t, _k in tally.kept]
        assert kept == [d if "type" in d else None for d in archived]
        set_ids = [str(i) for i in range(len(archived))]
        assert _events(kept, [k for _t, k in tally.kept], set_ids) == _events(archived, None, set_ids)
        assert _kept_events(tally.kept, set_ids) == _events(archived, None, set_ids)
        compacted += sum(1 for t, k in tally.kept if t is not None and k is not None and compact_record(t))
        checked += len(archived)
    assert checked >= 60
    assert compacted >= 40  # most records take the way without parsing


def _kept_events(entries, set_ids=()):
    return [e.to_bytes() for e in iter_kept_record_events(message_id=42, partner="p", entries=entries,
                                                          set_ids=list(set_ids), keys_of=_keys_of, occurred_at=AT)]


AWKWARD = [  # strings a text-level compaction could take for layout: each must come out as the parser gives it
    ": starts like a separator", '": quoted', "a\\b", "tab\there", "line\nbreak", "  spaces  around  ", "{[,]}",
    "é ü 中文 \u2028", ",: ", "[: ", "{: ", "key: value", '\\"', "\"", "",
]


@pytest.mark.parametrize("value", AWKWARD)
def test_awkward_values_give_the_events_the_parser_gives(value):
    for record in (
        Shipment(shipment_id=value or "S", bill_of_lading="B", notes=[Note(text=value or "n")]),
        Order(order_number="O1", references=[Reference(qualifier="PO", value=value or "v")],
              total_weight=Decimal("1.50")),
    ):
        text = record_text(record, "    ")
        keys = tuple(business_keys(record))
        entries = [(text, keys), (None, None), (text, None)]
        documents = [json.loads(text), None, json.loads(text)]
        assert _kept_events(entries, ["856", "856", "856"]) == _events(documents, [keys, None, None], ["856"] * 3)
        if "\\" in text or value.startswith(": "):
            assert compact_record(text) is None  # left to the parser
        else:
            assert compact_record(text) is not None


def test_compact_record_is_the_compact_encoding():
    doc = {"type": "order", "a": [1, 2.5, -3e-09, True, None, {}], "b": {"c": [], "d": "x: y"}, "e": ": z"}
    text = json.dumps(doc, indent=2, ensure_ascii=False).replace("\n", "\n    ")
    assert compact_record(text) is None  # a string starting with ": " is left to the parser
    doc["e"] = "z"
    text = json.dumps(doc, indent=2, ensure_ascii=False).replace("\n", "\n    ")
    assert compact_record(text) == ("order", json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    assert compact_record(text.replace('"order"', '"nothing"')) is None
    assert compact_record('{\n  "a": 1,\n  "type": "order"\n}') is None


@pytest.mark.parametrize("seed", range(6))
def test_keys_known_for_a_record_are_those_of_its_text(seed):
    """Emptied values (required ones too) in records: either the text parses back with the record's keys, or the
    writer reported the loss and the hand-off asks the text (as from the archive)."""
    rng = random.Random(seed)
    lost_seen = 0
    for record in _sample_records()[:40] + _generated_records():
        data = _mutate(record.model_dump(mode="json", exclude_none=True), rng)
        try:
            mutated = parse_record(data)
        except Exception:
            continue
        lost: list[str] = []
        doc = json.loads(record_text(mutated, "    ", lost))
        if lost:
            lost_seen += 1
        else:
            assert business_keys(mutated) == _keys_of(doc)
    assert lost_seen >= 1  # the mutations empty required qualifiers and values


def test_a_required_value_emptied_is_reported_and_its_text_has_no_keys(store):
    record = Shipment(shipment_id="S1", bill_of_lading="BOL9", references=[Reference(qualifier="", value="PO7")],
                      notes=[Note(text="")])
    lost: list[str] = []
    doc = json.loads(record_text(record, "    ", lost))
    assert sorted(lost) == ["qualifier", "text"]
    assert business_keys(record) == [("shipment", "S1"), ("bol", "BOL9")]
    assert _keys_of(doc) == []  # what the archive path gives: the record no longer parses back
    tally = _Tally(KeySink(store, 1, Batch()), keep=True)
    b"".join(tally.documents([record, MappingError("set 856 0002: bad")]))
    assert [(json.loads(t) if t else None, k) for t, k in tally.kept] == [(doc, None), (None, None)]
    assert _events([doc, None], [None, None]) == _events([doc, {"error": {}}])


def test_a_large_message_is_not_kept(store):
    tally = _Tally(KeySink(store, 1, Batch()), keep=True)
    b"".join(tally.documents(iter_canonical(make_856(KEEP_RECORDS + 1))))
    assert tally.kept is None and tally.records == KEEP_RECORDS + 1


def _encoded(text):
    return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))


def test_compact_record_is_the_encoders_text_for_what_the_writer_writes():
    """Every record the canonical writer writes (samples, generated sets, records with odd and emptied strings), at
    the hand-off's indentation and none, fresh and not: compact_record gives the parser's then the encoder's text,
    or leaves the record to them."""
    rng = random.Random(15)
    records = _sample_records() + _generated_records()
    odd = []
    for record in records[:60]:
        try:
            odd.append(parse_record(_mutate(record.model_dump(mode="json", exclude_none=True), rng)))
        except Exception:  # a mutation the models refuse
            continue
    compacted = 0
    for record in records + odd:
        for pad in ("    ", ""):
            for fresh in (True, False):
                text = record_text(record, pad, fresh=fresh)
                got = compact_record(text)
                if got is not None:
                    compacted += 1
                    assert got == (record.type, _encoded(text))
    assert compacted >= 3 * len(records)  # most records take the way without parsing


_PLAIN = [":", " ", ",", "{", "}", "[", "]", "a", "é", "\u2028", "\x85", "\xa0", "0"]  # no escape needed
_JSON_TEXT = (st.text(st.sampled_from(_PLAIN), max_size=6)
              | st.text(st.sampled_from([*_PLAIN, '"', "\\", "\n", "\t", "\x1f"]), max_size=6))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _JSON_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_JSON_TEXT, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([*sorted(RECORD_EVENT_TYPES), "other"]), st.dictionaries(_JSON_TEXT, _JSON, max_size=4),
       st.sampled_from(["", "    "]))
def test_compact_record_on_any_json_in_the_writers_layout(kind, members, pad):
    doc = {"type": kind, **{k: v for k, v in members.items() if k != "type"}}
    text = _indented(doc, pad)
    got = compact_record(text)
    if got is not None:
        assert got == (kind, _encoded(text))
    else:
        assert kind == "other" or "\\" in text or ' ": ' in text


@settings(max_examples=300, deadline=None)
@given(_JSON_TEXT, st.none() | _JSON_TEXT, st.integers(min_value=0), st.none() | _JSON_TEXT, st.integers(),
       st.lists(st.tuples(_JSON_TEXT, _JSON_TEXT | st.integers()), max_size=4))
def test_head_text_is_the_encoders_text(event_id, partner, message_id, set_id, position, keys):
    head = _record_head(event_id, "order", "2026-12-07T08:00:00+00:00", partner, message_id, set_id, position, keys)
    assert head_text(head) == json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
