"""The service-level job's check on both backends: objects of one run that share their documents (a key shared by a
burst) read them once, and come out as when each read its own."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.flows import service_levels as job_module
from gateway.flows.business import Timelines
from gateway.flows.service_levels import ServiceLevelJob
from gateway.store import business as rows
from gateway.store import business_index as index
from gateway.store.archive import Archive
from gateway.store.repository import Store
from tests.business.test_store import NOW, message


def _job(store: Store, tmp_path: Path) -> ServiceLevelJob:
    timelines = Timelines(store, Archive(tmp_path / "archive"), lambda _pid: None)
    # no partner file, so no level and no breach: nothing to hand off or notify
    return ServiceLevelJob(timelines=timelines, handoff=None, notifier=None, clock=lambda: NOW + timedelta(seconds=1))


def _state(store: Store) -> list[tuple]:
    with store.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(rows.sa.select(
            rows.BO.c.kind, rows.BO.c.norm, rows.BO.c.stage, rows.BO.c.check_due_at, rows.BO.c.lease_owner,
            rows.BO.c.breaches)))


def _due_again(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(rows.sa.update(rows.BO).values(check_due_at=NOW, lease_owner=None, lease_until=None))


def test_objects_sharing_their_documents_read_them_once_per_run_with_the_same_outcome(store, tmp_path,
                                                                                      monkeypatch: pytest.MonkeyPatch):
    # a carrier's PRO number on every ship notice: every order reaches the same documents through the shipment
    for i in range(12):
        message(store, "856", [("shipment", f"SH{i:05d}"), ("po", f"PO{i:05d}"), ("pro", "PRO-HUB")],
                partner="harbor-3pl")
    message(store, "940", [("order", "ORD-ALONE"), ("po", "PO-ALONE")])  # its own documents
    index.index_new_keys(store.engine, now=NOW)
    loads: list[int] = []
    real_load = rows.load

    def counted(conn, ids, **kw):  # the real load, counted
        loads.append(len(ids))
        return real_load(conn, ids, **kw)

    monkeypatch.setattr(rows, "load", counted)
    job = _job(store, tmp_path)
    out = job.run()
    assert out["checked"] == 14  # 13 orders and the one shipment all the ship notices joined
    assert sorted(loads) == [1, 12]  # the shared documents once, the lone order's once
    assert not job._same  # nothing kept past the run: the next one reads the documents again
    cached = _state(store)

    _due_again(store)
    loads.clear()
    monkeypatch.setattr(job_module, "SAME_TIMELINES", 0)  # each object reads its own documents, as before
    assert job.run()["checked"] == 14
    assert len(loads) == 14
    assert _state(store) == cached
    assert {stage for _k, _n, stage, *_ in cached} != {None}
