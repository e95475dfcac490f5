"""Canonical records <-> CSV, one row per line item with the header columns repeated; column maps are data
(``mappings/csv/<type>.yaml``).

A column map lists levels: the record, then nested lists (``lines``; or ``orders`` then ``lines``). Each level maps
column names to canonical paths (``carrier.scac``, ``parties[role=ship_to].name``, ``address_lines[0]``); a level's
``key`` columns say which consecutive rows belong to the same record or list item. Reading is streamed: pandas
reads ``chunksize`` rows at a time with every column as text (``dtype=str``, ``keep_default_na=False``: leading
zeros and the text "NA" survive), and a record is yielded as soon as its last row has been read, so memory stays
flat whatever the file size.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import yaml
from pydantic import ValidationError

from gateway.canonical import RECORD_TYPES, Record
from gateway.canonical.jsonio import record_to_dict
from gateway.errors import ConfigError, Location, MappingError
from gateway.mapping.spec import MAPPINGS_DIR

_TOKEN = re.compile(r"^([a-z_]+)(?:\[(\d+)\]|\[([a-z_]+)=([^\]]*)\])?$")


@lru_cache(maxsize=16)
def column_map(kind: str, root: str | None = None) -> dict[str, Any]:
    path = Path(root) if root else MAPPINGS_DIR / "csv" / f"{kind}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the CSV column map: {exc}", location=Location(file=str(path))) from exc
    if not isinstance(data, dict) or data.get("record") != kind or not data.get("levels"):
        raise ConfigError(f"a CSV column map needs record: {kind} and levels", location=Location(file=str(path)))
    for level in data["levels"]:
        for column, target in level.get("columns", {}).items():
            for token in str(target).split("."):
                if not _TOKEN.match(token):
                    raise ConfigError(f"column {column!r}: {target!r} is not a canonical path",
                                      location=Location(file=str(path), field=column))
    return data


def columns_of(kind: str) -> list[str]:
    return [c for level in column_map(kind)["levels"] for c in level["columns"]]


@lru_cache(maxsize=1024)
def _tokens(path: str) -> tuple[tuple[str, str | None, str | None, str | None], ...]:
    out: list[tuple[str, str | None, str | None, str | None]] = []
    for token in path.split("."):
        m = _TOKEN.match(token)
        if m is None:
            raise ConfigError(f"{path!r} is not a canonical path")
        name, index, key, value = m.groups()
        out.append((name, index, key, value))
    return tuple(out)


def get_path(data: Any, path: str) -> Any:
    for name, index, key, value in _tokens(path):
        data = data.get(name) if isinstance(data, dict) else None
        if data is None:
            return None
        if index is not None:
            data = data[int(index)] if isinstance(data, list) and len(data) > int(index) else None
        elif key is not None:
            data = next((x for x in data if isinstance(x, dict) and x.get(key) == value), None)
    return data


def set_path(data: dict[str, Any], path: str, value: str) -> None:
    tokens = _tokens(path)
    for i, (name, index, key, kval) in enumerate(tokens):
        last = i == len(tokens) - 1
        if index is not None:
            items = data.setdefault(name, [])
            while len(items) <= int(index):
                items.append("" if last else {})
            if last:
                items[int(index)] = value
                return
            data = items[int(index)]
        elif key is not None:
            items = data.setdefault(name, [])
            found = next((x for x in items if x.get(key) == kval), None)
            if found is None:
                found = {key: kval}
                items.append(found)
            data = found
        elif last:
            data[name] = value
        else:
            data = data.setdefault(name, {})


# -- writing ------------------------------------------------------------------------------------------------------
def _rows(data: dict[str, Any], levels: list[dict[str, Any]], depth: int, prefix: dict[str, str]) -> Iterator[dict]:
    level = levels[depth]
    row = dict(prefix)
    for column, path in level["columns"].items():
        value = get_path(data, path)
        row[column] = "" if value is None else str(value)
    if depth + 1 == len(levels):
        yield row
        return
    items = data.get(levels[depth + 1]["list"]) or []
    if not items:
        empty = {c: "" for lv in levels[depth + 1:] for c in lv["columns"]}
        yield {**row, **empty}
        return
    for item in items:
        yield from _rows(item, levels, depth + 1, row)


def write_csv(records: Iterable[Record], out: IO[str], kind: str) -> int:
    """Write records of one type as CSV rows; returns the number of rows."""
    spec = column_map(kind)
    writer = csv.DictWriter(out, fieldnames=columns_of(kind), lineterminator="\n")
    writer.writeheader()
    count = 0
    for record in records:
        if record.type != kind:
            raise MappingError(f"a {record.type} record cannot go into a {kind} CSV",
                               hint="write one CSV per record type (--type)")
        for row in _rows(record_to_dict(record), spec["levels"], 0, {}):
            writer.writerow(row)
            count += 1
    return count


# -- reading ------------------------------------------------------------------------------------------------------
def iter_rows(source: str | Path | IO[str] | IO[bytes], chunksize: int = 10_000) -> Iterator[dict[str, str]]:
    import pandas as pd  # lazily: pandas and numpy cost ~60 MB of memory in every process that imports this

    reader = pd.read_csv(source, dtype=str, keep_default_na=False, chunksize=chunksize, encoding="utf-8")
    with reader:
        for chunk in reader:
            columns = list(chunk.columns)
            # one conversion per chunk: iterating pandas' string arrays element by element is ~10x slower
            for values in chunk.to_numpy(dtype=object).tolist():
                yield dict(zip(columns, values, strict=True))


def read_csv(source: str | Path | IO[str] | IO[bytes], kind: str, *, chunksize: int = 10_000,
             file: str | None = None) -> Iterator[Record | MappingError]:
    """Records from CSV rows (streamed). A row group that does not validate gives a MappingError naming the
    CSV line and field; the following records still come."""
    levels = column_map(kind)["levels"]
    model = RECORD_TYPES[kind]
    current: dict[str, Any] | None = None
    keys: list[tuple | None] = [None] * len(levels)
    parents: list[dict[str, Any] | None] = [None] * len(levels)
    first_line = 0

    def finish() -> Record | MappingError:
        assert current is not None
        try:
            return model.model_validate(current)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            return MappingError(f"CSV record starting at line {first_line}: {where}: {err['msg']}",
                                location=Location(file=file, line=first_line, field=where),
                                hint="correct the value in the CSV and send it again")

    for number, row in enumerate(iter_rows(source, chunksize), start=2):
        top = tuple(row.get(c, "") for c in levels[0].get("key", []))
        if current is None or top != keys[0]:
            if current is not None:
                yield finish()
            current = {"type": kind}
            keys = [top] + [None] * (len(levels) - 1)
            parents = [current] + [None] * (len(levels) - 1)
            first_line = number
            _fill(current, levels[0], row)
        for depth in range(1, len(levels)):
            level = levels[depth]
            values = {c: row.get(c, "") for c in level["columns"]}
            key = tuple(row.get(c, "") for c in level.get("key", [])) if level.get("key") else None
            parent = parents[depth - 1]
            if parent is None:
                break
            if key is not None and key == keys[depth] and parents[depth] is not None:
                continue  # same list item as the previous row
            if not any(values.values()) and all(not row.get(c) for lv in levels[depth + 1:] for c in lv["columns"]):
                parents[depth] = None
                break
            item: dict[str, Any] = {}
            _fill(item, level, row)
            parent.setdefault(level["list"], []).append(item)
            parents[depth] = item
            keys[depth] = key
            for deeper in range(depth + 1, len(levels)):
                keys[deeper] = None
    if current is not None:
        yield finish()


def _fill(target: dict[str, Any], level: dict[str, Any], row: dict[str, str]) -> None:
    for column, path in level["columns"].items():
        value = row.get(column, "")
        if value != "":
            set_path(target, path, value)
