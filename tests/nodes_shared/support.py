"""Several real ``gateway serve`` nodes on one PostgreSQL database, one shared archive and shared partner folders.

Each node has its own home (config/, partners/, var/) as it would on its own host; what they share is what
docs/operations.md ("Several nodes") says they must share: the database, ``archive_dir``, and the partner folder
channels (absolute paths, the same on every node), here the hand-off folder destination too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from tests.support.gateway_home import make_home
from tests.support.postgres import reachable, scratch_database

PARTNER = "acme-retail"
REPO = Path(__file__).resolve().parents[2]
SAMPLE_940 = REPO / "samples" / "x12" / "940" / "acme-retail-new-order.edi"

HANDOFF = """destinations:
  - {{name: erp-drop, type: folder, path: {path}, format: json}}
routes:
  - {{to: [erp-drop]}}
"""


@contextmanager
def shared_database() -> Iterator[str]:
    """A PostgreSQL database of its own (unique name), dropped afterwards; the test is skipped without a server."""
    import pytest

    reason = reachable()
    if reason:
        pytest.skip(reason)
    with scratch_database("gw_nodes") as url:
        yield url


def node_home(base: Path, shared: Path) -> Path:
    """A node's home whose acme-retail channels and hand-off destination are the shared folders."""
    home = make_home(base)
    acme = home / "partners" / f"{PARTNER}.yaml"
    text = acme.read_text()
    for way in ("inbound", "outbound"):
        rel = f"path: channels/{PARTNER}/{way}"
        assert rel in text
        text = text.replace(rel, f"path: {shared / 'channels' / PARTNER / way}")
    acme.write_text(text)
    (home / "config" / "handoff.yaml").write_text(HANDOFF.format(path=shared / "handoff"))
    return home


def node_env(url: str, shared: Path, **extra: str) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_ARCHIVE_DIR": str(shared / "archive"),
        "GATEWAY_LOG_LEVEL": "WARNING",
        **extra,
    }


def inbox(shared: Path) -> Path:
    return shared / "channels" / PARTNER / "inbound"


def outbox(shared: Path) -> Path:
    return shared / "channels" / PARTNER / "outbound"


def order_940(n: int) -> bytes:
    """The acme-retail 940 sample with its own control numbers and order number (file ``n``): every file is a
    distinct interchange, never a duplicate of another."""
    text = SAMPLE_940.read_text()
    isa = f"{900000000 + n:09d}"
    text = text.replace("*000000007*0*P*", f"*{isa}*0*P*").replace("IEA*1*000000007~", f"IEA*1*{isa}~")
    text = text.replace("*4311*T*004010UCS~", f"*{7000 + n}*T*004010UCS~").replace("GE*1*4311~", f"GE*1*{7000 + n}~")
    text = text.replace("W05*N*18061923*", f"W05*N*SO{n:06d}*")
    assert isa in text and f"GE*1*{7000 + n}~" in text
    return text.encode()


def rows(url: str, sql: str, **params: object) -> list[sa.Row]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return list(c.execute(sa.text(sql), params))
    finally:
        eng.dispose()
