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
from gateway.canonical.jsonio import (
    DocumentsWriter,
    _fresh_text,
    _indented,
    documents_json,
    record_text,
    record_to_dict,
)
from gateway.canonical.models import RECORD_TYPES
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


# -- fresh records (as model_validate made them): written by pydantic's serializer when nothing is to be pruned


def _fields(model, seen):
    """Every annotation of ``model`` and of the models it holds."""
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        yield field.annotation
        for arg in _args(field.annotation):
            if isinstance(arg, type) and hasattr(arg, "model_fields"):
                yield from _fields(arg, seen)


def _args(annotation):
    out = [annotation]
    for arg in getattr(annotation, "__args__", ()):
        out += _args(arg)
    return out


def test_models_hold_no_numbers_the_serializer_would_write_otherwise():
    """_fresh_text relies on it: pydantic writes floats unlike json.dumps (and ints and bools would need a look)."""
    seen = set()
    for model in RECORD_TYPES.values():
        assert next(iter(model.model_fields)) == "type"
        for annotation in _fields(model, seen):
            assert not {float, int, bool} & set(_args(annotation)), (model, annotation)


def _fresh_records():
    """Records as the mapping makes them (validated from the mapped dict): the samples', the generated sets'."""
    records = []
    for path in sorted((REPO / "samples").glob("x12/*/*.edi")):
        records += [r for r in to_canonical(path.read_bytes(), file=path.name) if not isinstance(r, Exception)]
    return records + _generated_records()


def test_fresh_records_same_text_mostly_by_the_serializer():
    records = _fresh_records()
    fast = 0
    for record in records:
        for pad in ("    ", ""):
            assert record_text(record, pad, fresh=True) == _old(record, pad)
        fast += _fresh_text(record, "    ") is not None
    assert fast >= len(records) * 0.6, (fast, len(records))


@pytest.mark.parametrize("seed", range(8))
def test_fresh_mutated_records_same_text(seed):
    """Validated from pruned dicts with values emptied or made odd (escapes, non-ASCII, U+2028), empty items."""
    rng = random.Random(seed)
    checked = fast = 0
    for record in _fresh_records():
        data = _mutate(json.loads(_old(record, "")), rng)
        try:
            mutated = parse_record(data)
        except Exception:  # an emptied date or required qualifier: refused, as the mapping would report
            continue
        lost, lost_old = [], []
        assert record_text(mutated, "    ", lost, fresh=True) == record_text(mutated, "    ", lost_old)
        assert lost == lost_old
        fast += _fresh_text(mutated, "    ") is not None
        checked += 1
    assert checked >= 10 and fast >= 1


def test_fresh_odd_strings_and_unset_defaults():
    odd = 'a"b\\c\u2028\x7f\x00\x1f\b\f\n\r\t é😀'
    shipment = RECORD_TYPES["shipment"]
    record = shipment.model_validate({"shipment_id": odd, "parties": [{"name": "x[]"}], "total_weight": "1E+2"})
    assert _fresh_text(record, "    ") is None  # "[]" inside a string: the general path, the same text
    assert record_text(record, "    ", fresh=True) == _old(record, "    ")
    for data in ({"type": "shipment", "shipment_id": odd, "parties": [{"name": "x"}], "total_weight": "1E+2"},
                 {"shipment_id": "1", "orders": [{"lines": [{"product": {"sku": "1"}}]}]}):  # type set or not
        record = shipment.model_validate(data)
        assert _fresh_text(record, "    ") == _old(record, "    ")
    emptied = shipment.model_validate({"shipment_id": "1", "orders": [{"lines": [{}]}], "parties": []})
    assert _fresh_text(emptied, "  ") is None
    assert record_text(emptied, "  ", fresh=True) == _old(emptied, "  ")
    assert _fresh_text(RECORD_TYPES["status"].model_validate({"carrier_scac": "\ud800"}), "") is None
