"""The streamed writer's record text (:func:`record_text`, pruning while writing) is the text of the general path
(``_indented(record_to_dict(record))``: dump, prune, indent) for the shipped samples, the benchmark's generated
sets and seeded mutations of them (values emptied, empty items in lists, odd characters)."""

import json
import random
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from gateway.canonical import parse_record
from gateway.canonical.jsonio import DocumentsWriter, _indented, documents_json, record_text, record_to_dict
from gateway.mapping import to_canonical

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from mapping import make_214, make_856, make_940, make_945  # noqa: E402


def _old(record, pad):
    return _indented(record_to_dict(record), pad)


def _sample_records():
    records = []
    for path in sorted((REPO / "samples").glob("x12/*/*.edi")):
        records += [r for r in to_canonical(path.read_bytes(), file=path.name) if not isinstance(r, Exception)]
    for path in sorted((REPO / "samples").rglob("*.canonical.json")):
        data = json.loads(path.read_text())
        docs = data["documents"] if isinstance(data, dict) and "documents" in data else [data]
        records += [parse_record(d) for d in docs if isinstance(d, dict) and "type" in d]
    return records


def _generated_records():
    return [r for make in (make_856, make_940, make_945, make_214) for r in to_canonical(make(3))]


def _text(value):
    """A free-text string (not a date, not a decimal): one the records accept empty or with odd characters."""
    if not isinstance(value, str) or (value[:4].isdigit() and value[4:5] == "-"):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return True
    return False


def _mutate(value, rng):
    """Strings emptied or made odd, items of emptied strings added into lists (kept as items), at every depth."""
    if isinstance(value, dict):
        return {k: (v if k == "type" else _mutate(v, rng)) for k, v in value.items()}
    if isinstance(value, list):
        out = [_mutate(v, rng) for v in value]
        if out and isinstance(out[0], dict) and rng.random() < 0.3:
            out.append({k: ("" if _text(v) and k != "text" else v) for k, v in out[0].items()})
        return out
    if _text(value):
        roll = rng.random()
        if roll < 0.2:
            return ""
        if roll < 0.3:
            return value + ' é"\\\u2028\t'
    return value


def test_samples_and_generated_same_text():
    records = _sample_records() + _generated_records()
    assert len(records) >= 30
    for record in records:
        for pad in ("    ", ""):
            assert record_text(record, pad) == _old(record, pad)


@pytest.mark.parametrize("seed", range(8))
def test_mutated_records_same_text(seed):
    rng = random.Random(seed)
    checked = 0
    for record in _sample_records()[:40] + _generated_records():
        data = _mutate(record.model_dump(mode="json", exclude_none=True), rng)
        try:
            mutated = parse_record(data)
        except Exception:  # an emptied date or required qualifier: refused, as the mapping would report
            continue
        assert record_text(mutated, "    ") == _old(mutated, "    ")
        checked += 1
    assert checked >= 10


def test_empty_containers_in_a_record():
    record = parse_record({"type": "shipment", "shipment_id": "", "parties": [{}, {"name": "", "contacts": [{}]}],
                           "orders": [{"lines": [{"product": {"other": {}}, "references": []}]}],
                           "references": [{"qualifier": "BM", "value": ""}], "notes": [{"text": ""}]})
    assert record_text(record, "    ") == _old(record, "    ")
    assert json.loads(record_text(record, "")) == {"type": "shipment", "parties": [{}, {"contacts": [{}]}],
                                                    "orders": [{"lines": [{}]}], "references": [{"qualifier": "BM"}],
                                                    "notes": [{}]}


def test_writer_bytes_are_documents_json():
    from gateway.errors import MappingError

    items = [*_sample_records()[:10], MappingError("set 856 0001: x: bad"), *_generated_records()[:5]]
    writer = DocumentsWriter()
    out = b"".join(writer.add(i) for i in items) + writer.close()
    assert out.decode() == documents_json(items)
