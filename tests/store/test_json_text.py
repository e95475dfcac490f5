"""The store's JSON column text (gateway.store.db.json_text) is json.dumps' text, for the values the gateway
writes and for awkward ones; it refuses what json.dumps refuses, with the same error."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from gateway.store.db import create_db_engine, json_text

VALUES: list[Any] = [
    None, True, False, 0, -1, 2**70, 1.5, -0.0, 1e300, 1.0000000000000002, float("nan"), float("inf"),
    "", "plain", "é ü \u2028 \x00 \" \\ / \t", "\ud800",
    [], {}, [[], {}], {"a": [1, {"b": None, "c": True}], "é": "ü", "": ""},
    {2: 2, 2.5: "x", True: 1, None: 3, False: 0},
    {"receipts": [{"channel": "acme/out", "to": "/x/y.x12", "outcome": "completed"}], "records": 3, "keys": 12},
    {"nested": {"deep": [[[{"x": [1, 2, 3]}]]]}},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_same_text_as_json_dumps(value: Any) -> None:
    assert json_text(value) == json.dumps(value)


@pytest.mark.parametrize("value", [Decimal("1.2"), {"x": object()}, {("t",): 1}, [b"bytes"]])
def test_refuses_what_json_dumps_refuses(value: Any) -> None:
    with pytest.raises(TypeError) as expected:
        json.dumps(value)
    with pytest.raises(TypeError) as got:
        json_text(value)
    assert str(got.value) == str(expected.value)


def test_the_engine_writes_json_columns_with_it(tmp_path: Any) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'j.db'}")
    assert engine.dialect._json_serializer is json_text  # type: ignore[attr-defined]
    from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert

    t = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("doc", JSON))
    t.create(engine)
    doc = {"é": [1, 2.5, None], "k": "v"}
    with engine.begin() as conn:
        conn.execute(insert(t), [{"doc": doc}])
        stored = conn.execute(text("SELECT doc FROM t")).scalar_one()
    assert stored == json.dumps(doc)
    engine.dispose()
