"""Several inbound files in flight at once (``inbound_workers``): each is archived, acknowledged once, mapped and
committed, on both store backends, with every acknowledgement's control number distinct."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from sqlalchemy import text

from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.support.gateway_home import make_home, wait_for

FILES = 24


def _interchanges(repo_root: Path, n: int) -> list[bytes]:
    """``n`` copies of the sample 856, each with its own interchange control number (ISA13/IEA02)."""
    text_ = (repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi").read_text()
    return [text_.replace("000000091", f"{700000000 + i:09d}").encode() for i in range(1, n + 1)]


def test_workers_default_by_backend(tmp_path):
    home = make_home(tmp_path)
    assert load_settings(home / "config" / "gateway.yaml").workers == 1
    pg = load_settings(home / "config" / "gateway.yaml", database_url="postgresql+psycopg://u@h/db")
    assert pg.workers == 2
    assert load_settings(home / "config" / "gateway.yaml", inbound_workers=2).workers == 2


def test_files_in_flight_at_once_are_each_acked_once_and_mapped(tmp_path, repo_root, database_url):
    home = make_home(tmp_path)
    settings = load_settings(
        home / "config" / "gateway.yaml",
        database_url=database_url,
        inbound_workers=4,
        folder={"min_age_seconds": 0.2, "sweep_seconds": 1},
    )
    gw = Gateway(settings)
    inbox = settings.data_path / "channels" / "harbor-3pl" / "inbound"
    inbox.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(_interchanges(repo_root, FILES), start=1):  # all present at the first poll
        (inbox / f".w{i:03d}.part").write_bytes(data)
        (inbox / f".w{i:03d}.part").rename(inbox / f"w{i:03d}.edi")
    gw.start()
    try:
        done_sql = text(
            "SELECT count(DISTINCT m.id) FROM message m JOIN event e ON e.message_id = m.id "
            "WHERE m.direction = 'inbound' AND m.status = 'acked' AND e.name = 'mapping.done'"
        )

        def all_done() -> bool:
            with gw.engine.connect() as c:
                return int(c.execute(done_sql).scalar_one()) >= FILES

        wait_for(all_done, timeout=90, interval=0.3)
        assert gw.pollers[0].workers == 4
        with gw.engine.connect() as c:
            inbound = c.execute(text("SELECT count(*) FROM message WHERE direction = 'inbound'")).scalar_one()
            links = c.execute(text("SELECT message_id, count(*) FROM ack_link GROUP BY message_id")).all()
            controls = c.execute(
                text("SELECT count(DISTINCT file_name), count(*) FROM message WHERE direction = 'outbound'")
            ).one()
            generated = c.execute(text("SELECT count(*) FROM event WHERE name = 'ack.generated'")).scalar_one()
            spans = c.execute(text(
                "SELECT e.message_id, min(e.at), max(e.at) FROM event e JOIN message m ON m.id = e.message_id "
                "WHERE m.direction = 'inbound' AND e.name IN ('message.received', 'message.acked') "
                "GROUP BY e.message_id ORDER BY e.message_id"
            )).all()
        assert inbound == FILES  # nothing doubled
        assert len(links) == FILES and all(n == 1 for _mid, n in links)  # one 997 each
        assert generated == FILES
        assert controls == (FILES, FILES)  # 997 names carry their ISA13: every control number distinct
        # in flight at once: some file was received before the one received ahead of it was acknowledged
        assert any(later[1] < earlier[2] for earlier, later in pairwise(spans))
        assert sorted(p.name for p in (inbox / "processed").iterdir()) == [f"w{i:03d}.edi" for i in range(1, 25)]
        assert not [p for p in inbox.iterdir() if p.is_file()]
    finally:
        gw.stop()


def test_the_reconcile_job_leaves_a_message_still_being_mapped_here(tmp_path, repo_root):
    """A large file's mapping can outlast the reconcile job's idle delay: the job must not take it for a crash and
    map it a second time alongside; once the flow is done with it, an unreleased message is released as before."""
    from datetime import UTC, datetime, timedelta

    home = make_home(tmp_path)
    gw = Gateway(load_settings(home / "config" / "gateway.yaml", folder={"min_age_seconds": 0.2, "sweep_seconds": 1}))
    inbox = gw.settings.data_path / "channels" / "harbor-3pl" / "inbound"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "one.edi").write_bytes(_interchanges(repo_root, 1)[0])
    gw.start()
    try:
        def released() -> int | None:
            with gw.engine.connect() as c:
                return c.execute(text(
                    "SELECT id FROM message WHERE direction = 'inbound' AND handoff_status IS NOT NULL"
                )).scalar()

        mid = wait_for(released, timeout=30, interval=0.2)
        with gw.engine.begin() as c:  # as if the release had not happened yet
            c.execute(text("UPDATE message SET handoff_status = NULL WHERE id = :id"), {"id": mid})
        gw.handoff.clock = lambda: datetime.now(UTC) + timedelta(hours=1)  # idle long enough to look crashed
        gw.inbound.working.add(mid)
        assert gw.handoff.reconcile() == []
        gw.inbound.working.discard(mid)
        assert gw.handoff.reconcile() == [mid]
    finally:
        gw.stop()
