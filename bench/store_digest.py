"""Digest of a gateway home after a bench run, ids and timestamps left out, to compare two checkouts' results.

    .venv/bin/python bench/e2e.py --workloads large --keep ...        # prints the PostgreSQL database it kept
    .venv/bin/python bench/store_digest.py HOME [--database-url URL] > a.txt
    diff a.txt b.txt                                                   # nothing: the same rows, events, outputs

Every table's rows (columns named ``id``, ending in ``_at`` or holding datetimes left out; the home's path and
the run's temporary names replaced) are sorted and hashed, with the row count; the archived blobs that outputs
and messages name are hashed by content (gzip undone); files under ``var/channels`` are hashed with the
interchange and group dates and times (ISA09/10, GS04/05) blanked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import re
from pathlib import Path

import sqlalchemy as sa

SKIP_TABLES = {"alembic_version", "gateway_node"}
SKIP_COLUMNS = {"id", "correlation_id", "lease_owner"}  # random per run
FTS = re.compile(r"^business_key_fts")


BLOBS: dict[str, str] = {}  # an archived blob's sha256 -> the hash of its bytes with X12 dates blanked


def _norm(value: object, home: str) -> str:
    if isinstance(value, (dt.datetime, dt.date)):
        return "<time>"
    text = json.dumps(value, sort_keys=True, default=str) if isinstance(value, (dict, list)) else str(value)
    text = text.replace(home, "<home>")
    for sha, same in BLOBS.items():  # a 997 written in another minute is the same 997
        text = text.replace(sha, same)
    text = re.sub(r"gw-e2e-large-[a-z0-9_]+", "<tmp>", text)
    text = re.sub(r"(:\d+):\d{12,}$", r"\1:<mtime>", text)  # a folder item's idempotency key: path:size:mtime_ns
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "<time>", text)
    return text


def tables(url: str, home: str) -> list[str]:
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    out = []
    with engine.connect() as c:
        for name in sorted(meta.tables):
            if name in SKIP_TABLES or FTS.match(name):
                continue
            t = meta.tables[name]
            cols = [col for col in t.columns if col.name not in SKIP_COLUMNS and not col.name.endswith("_at")
                    and not isinstance(col.type, (sa.DateTime, sa.Date))]
            rows = sorted("|".join(_norm(v, home) for v in r) for r in c.execute(sa.select(*cols)))
            h = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
            out.append(f"table {name} rows={len(rows)} cols={','.join(col.name for col in cols)} {h}")
    engine.dispose()
    return out


def blob(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    same = _undated(data)
    BLOBS[hashlib.sha256(data).hexdigest()] = same
    return same


def channel_file(path: Path) -> str:
    return _undated(path.read_bytes())


def _undated(data: bytes) -> str:
    data = re.sub(rb"(ISA(?:\*[^*]*){8}\*)\d{6}\*\d{4}", rb"\1DATE*TIME", data)
    data = re.sub(rb"(GS(?:\*[^*]*){3}\*)\d{8}\*\d{4,8}", rb"\1DATE*TIME", data)
    return hashlib.sha256(data).hexdigest()[:16]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("home", type=Path)
    p.add_argument("--database-url", default=None)
    a = p.parse_args()
    home = a.home.resolve()
    url = a.database_url or f"sqlite:///{home / 'var' / 'gateway.db'}"
    archive = home / "var" / "archive"
    print("archive blobs", sorted(blob(f) for f in archive.rglob("*") if f.is_file()))
    for line in tables(url, str(home)):
        print(line)
    for f in sorted((home / "var" / "channels").rglob("*")):
        if f.is_file():
            print("channel", str(f.relative_to(home)), channel_file(f))


if __name__ == "__main__":
    main()
