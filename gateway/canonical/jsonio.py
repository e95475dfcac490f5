"""Canonical records as JSON: compact (no empty values), stable key order, decimals as strings."""

from __future__ import annotations

import json
from typing import Any

from gateway.canonical.models import Record


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def record_to_dict(record: Record) -> dict[str, Any]:
    """The JSON form of a record without empty fields (``type`` always kept)."""
    data = _prune(record.model_dump(mode="json", exclude_none=True))
    data["type"] = record.type
    return {"type": data.pop("type"), **data}


def documents_json(items: list[Any], indent: int | None = 2) -> str:
    """``{"documents": [...]}``: records as dicts, errors as ``{"error": {...}}``."""
    docs = []
    for item in items:
        if isinstance(item, Exception):
            docs.append({"error": item.to_dict() if hasattr(item, "to_dict") else {"message": str(item)}})
        else:
            docs.append(record_to_dict(item))
    return json.dumps({"documents": docs}, indent=indent, ensure_ascii=False) + "\n"
