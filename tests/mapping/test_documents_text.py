"""The streamed canonical output (DocumentsWriter) keeps the exact text of ``json.dumps(indent=2)`` with its faster
formatter, for the shipped samples' records and for every kind of JSON value."""

import json
from pathlib import Path

import pytest

from gateway.canonical.jsonio import _indented

REPO = Path(__file__).resolve().parents[2]
ODD = {"a": [], "b": {}, "c": [1, -2.5, 1e300, True, False, None, "é\n\"x\u2028\\ \t\x00"], "d": {"e": [{"f": {}}]},
       3: "an int key", "g": float("inf"), "h": [[[]]], "": ""}


@pytest.mark.parametrize("value", [ODD, [ODD, [], {}], "s", 1, None, [[[]]], {"k": ODD}, {"k": [ODD, 2]}])
def test_same_text_as_the_standard_library(value):
    assert _indented(value, "    ") == json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n    ")


def test_sample_records_same_text():
    docs = []
    for path in sorted((REPO / "samples").rglob("*.canonical.json")):
        data = json.loads(path.read_text())
        docs += data["documents"] if isinstance(data, dict) and "documents" in data else [data]
    assert len(docs) >= 4
    for doc in docs:
        assert _indented(doc, "    ") == json.dumps(doc, indent=2, ensure_ascii=False).replace("\n", "\n    ")


def test_empty_values_pruned_at_every_depth_list_items_kept():
    from gateway.canonical.jsonio import _prune

    value = {"a": None, "b": "", "c": [], "d": {}, "e": {"f": {"g": None}}, "h": [{}, None, "", [], {"i": ""}],
             "j": 0, "k": False, "l": [[{"m": None}]], "n": "x", "o": 0.0}
    assert _prune(value) == {"h": [{}, None, "", [], {}], "j": 0, "k": False, "l": [[{}]], "n": "x", "o": 0.0}
