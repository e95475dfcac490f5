"""Compare what two runs of ``bench/e2e.py --keep`` left behind (two gateway homes of the same workload, e.g. base
and branch): every table's rows, the archived outputs (canonical JSON, acknowledgements) and the files written to
partners' folders, with what differs from run to run by nature left out (ids, timestamps, correlation ids, leases,
the archive keys of payloads that carry a timestamp).

    .venv/bin/python bench/compare_runs.py HOME_A HOME_B      # exit status 1 when anything differs

Rows are compared as multisets of normalised text: ids are replaced by what they point at (a message by its file
name), timestamps and 64-hex keys by placeholders, each home's path by ``HOME``.
"""

from __future__ import annotations

import collections
import gzip
import re
import sqlite3
import sys
from pathlib import Path

DROP = {"id", "at", "created_at", "updated_at", "started_at", "finished_at", "due_at", "delivered_at", "lease_owner",
        "lease_until", "correlation_id", "ack_due_at", "purged_at"}
SKIP_TABLES = {"alembic_version", "gateway_node", "business_key_fts_data", "business_key_fts_idx",
               "business_key_fts_docsize", "business_key_fts_config", "sqlite_sequence", "node_lease"}
TS = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")
HEX = re.compile(r"\b[0-9a-f]{64}\b")
HEX32 = re.compile(r"\b[0-9a-f]{32}\b|\b[0-9a-f]{16}\b")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
IDS = re.compile(r'"(ack_message_id|message_id|original|ta1_message_id|acknowledges|id)": ?(\d+)')
EVENT_ID = re.compile(r'"event_id": ?"(\d+)-(\d+)"')
ACK_KEY = re.compile(r"\back:(\d+):")  # an acknowledgement's idempotency key names the message it answers
MTIME = re.compile(r":\d{12,}\b")  # a folder item's idempotency key ends with its mtime in ns


def norm_x12(text: str) -> str:
    """An X12 interchange without its dates and times (ISA09/10, GS04/05)."""
    term = text[105] if len(text) > 105 else "~"
    segs = []
    for seg in text.split(term):
        els = seg.split("*")
        if els[0].strip() == "ISA" and len(els) > 10:
            els[9] = els[10] = "T"
        if els[0].strip() == "GS" and len(els) > 5:
            els[4] = els[5] = "T"
        segs.append("*".join(els))
    return term.join(segs)


def read_blob(home: Path, key: str) -> bytes:
    path = home / "var" / "archive" / key[:2] / key[2:4] / f"{key}.gz"
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    return data[data.index(b"\n") + 1:]  # RAW_MAGIC (gateway/store/archive.py): stored uncompressed


def snapshot(home: Path) -> dict[str, collections.Counter[str]]:
    db = sqlite3.connect(home / "var" / "gateway.db")
    labels = {mid: f"msg:{name or key}" for mid, name, key in db.execute(
        "SELECT id, file_name, idempotency_key FROM message")}
    home_s = str(home)

    def text(v: object) -> str:
        s = str(v).replace(home_s, "HOME")
        s = IDS.sub(lambda m: f'"{m.group(1)}": {labels.get(int(m.group(2)), "ID")}', s)
        s = MTIME.sub(":MTIME", s)
        s = EVENT_ID.sub(lambda m: f'"event_id": {labels.get(int(m.group(1)), "ID")}-{m.group(2)}', s)
        s = ACK_KEY.sub(lambda m: f"ack:{labels.get(int(m.group(1)), 'ID')}:", s)
        return UUID.sub("UUID", HEX32.sub("H", HEX.sub("KEY", TS.sub("TS", s))))

    out: dict[str, collections.Counter[str]] = {}
    tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'") if t not in SKIP_TABLES]
    for t in tables:
        cur = db.execute(f'SELECT * FROM "{t}"')
        cols = [c[0] for c in cur.description]
        rows: collections.Counter[str] = collections.Counter()
        for r in cur:
            parts = []
            for c, v in zip(cols, r, strict=True):
                if c in DROP or (c.endswith("_id") and c not in ("partner_id", "sender_id", "receiver_id",
                                                                  "transport_id", "set_id", "functional_id")):
                    if c.endswith("message_id"):
                        parts.append(f"{c}={labels.get(v, v)}")
                    continue
                if c == "archive_key" and v is not None:
                    blob = read_blob(home, v)
                    v = "blob:" + (norm_x12(blob.decode()) if blob.startswith(b"ISA") else text(blob.decode()))
                parts.append(f"{c}={text(v)}")
            rows["|".join(parts)] += 1
        out[t] = rows
    files: collections.Counter[str] = collections.Counter()
    for sub in ("outbox", "channels"):
        for p in sorted((home / "var" / sub).rglob("*")):
            if p.is_file():
                body = p.read_text(errors="replace")
                files[f"{p.relative_to(home / 'var')}:{norm_x12(body) if body.startswith('ISA') else text(body)}"] += 1
    out["files"] = files
    return out


def main() -> None:
    a, b = snapshot(Path(sys.argv[1])), snapshot(Path(sys.argv[2]))
    bad = 0
    for t in sorted(set(a) | set(b)):
        ra, rb = a.get(t, collections.Counter()), b.get(t, collections.Counter())
        only_a, only_b = ra - rb, rb - ra
        state = "same" if not only_a and not only_b else "DIFFERENT"
        print(f"{t:28} {sum(ra.values()):7} {sum(rb.values()):7}  {state}")
        for side, rows in (("A", only_a), ("B", only_b)):
            for row, n in list(rows.items())[:3]:
                print(f"    only {side} x{n}: {row[:600]}")
        bad += state != "same"
    print("identical" if not bad else f"{bad} tables differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
