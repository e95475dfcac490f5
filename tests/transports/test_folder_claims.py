"""Shared inbox folders (several nodes on one folder): the contract suite with claims on, and what claims add:
each file is taken by one node, a dead node's claims are taken over once its lease is stale, a live node's never,
a clean stop gives unfinished claims back. Several nodes are several FolderInbound objects with different node
ids on the same real folder (the rename is the file system's, as between processes)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from gateway.errors import TransientTransportError
from gateway.transports import folder as folder_module
from gateway.transports.claims import CLAIMED, KEEPER, LEASE
from gateway.transports.folder import FolderInbound
from tests.transports.contract import InboundContract, poll_for, read_all
from tests.transports.test_folder_contract import FolderHarness


def node(path: Path, name: str, *, stale: float = 60.0, min_age: float = 0.2) -> FolderInbound:
    f = FolderInbound(channel="p/folder", path=path, partner_id="p", min_age_seconds=min_age, claim_node=name,
                      claim_stale_seconds=stale)
    f.ensure_folders()
    return f


class SharedHarness(FolderHarness):
    """The folder contract with claims: "in the inbox" is the inbox plus every node's working folder."""

    def inbound(self, *, unreachable=False, bad_credentials=False):
        return node(self.inpath, "node-1")

    def inbox(self):
        claimed = {p.name for p in (self.inpath / CLAIMED).glob("*/*") if p.is_file() and p.name != LEASE}
        return {p.name for p in self.inpath.iterdir() if p.is_file()} | claimed


class TestSharedFolderInbound(InboundContract):
    @pytest.fixture
    def harness(self, tmp_path):
        return SharedHarness(tmp_path)


def drop_complete(folder: Path, name: str, data: bytes) -> None:
    p = folder / name
    p.write_bytes(data)
    t = time.time() - 3600
    os.utime(p, (t, t))


def test_each_file_is_claimed_by_one_of_several_nodes(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_module, "CLAIM_BATCH", 10)  # 60 files: several claims per node, the nodes share them
    inbox = tmp_path / "in"
    nodes = [node(inbox, f"n{i}", min_age=0) for i in range(3)]
    for n in range(60):
        drop_complete(inbox, f"f{n:03}.x12", f"ISA~f{n:03}.x12".encode())
    offered: dict[str, list[str]] = {}
    keys: dict[str, set[str]] = {}
    lock = threading.Lock()

    start = threading.Barrier(3)

    def work(f: FolderInbound) -> None:
        start.wait()
        for _ in range(20):
            items, _ = f.poll()
            for item in items:
                with lock:
                    offered.setdefault(item.name, []).append(f.claims.node)  # type: ignore[union-attr]
                    keys.setdefault(item.name, set()).add(item.idempotency_key)
                assert read_all(item) == f"ISA~{item.name}".encode()
                time.sleep(0.005)  # processing takes a while: the other nodes poll meanwhile
                item.ack(None)

    threads = [threading.Thread(target=work, args=(f,)) for f in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(offered) == [f"f{n:03}.x12" for n in range(60)]
    assert all(len(v) == 1 for v in offered.values()), {k: v for k, v in offered.items() if len(v) > 1}
    assert len({v[0] for v in offered.values()}) >= 2, "one node took everything: the test proves nothing"
    assert len(list((inbox / "processed").iterdir())) == 60
    # the key names the inbox path, whichever node claimed it
    for name, key in keys.items():
        st = (inbox / "processed" / name).stat()  # a rename keeps size and mtime
        assert key == {f"folder:{inbox / name}:{st.st_size}:{st.st_mtime_ns}"}
    for f in nodes:
        f.release()


def test_dead_nodes_claims_are_taken_over_once_its_lease_is_stale(tmp_path):
    inbox = tmp_path / "in"
    dead = node(inbox, "dead", stale=1.0, min_age=0)
    drop_complete(inbox, "a.x12", b"ISA~a")
    item = dead.poll()[0][0]
    key = item.idempotency_key
    assert item.path == inbox / CLAIMED / "dead" / "a.x12"
    KEEPER.remove(dead.claims)  # type: ignore[arg-type]  # the process died: nobody renews its lease
    alive = node(inbox, "alive", stale=1.0, min_age=0)
    assert alive.poll()[0] == []  # the lease is fresh: a live node's claim is never taken
    time.sleep(1.3)
    items = alive.poll()[0]
    assert [i.name for i in items] == ["a.x12"]
    assert items[0].idempotency_key == key and items[0].transport_id == str(inbox / "a.x12")
    assert not (inbox / CLAIMED / "dead").exists()  # the dead folder is gone
    items[0].ack(None)
    assert (inbox / "processed" / "a.x12").read_bytes() == b"ISA~a"
    alive.release()


def test_a_live_nodes_lease_is_renewed_while_it_works(tmp_path):
    inbox = tmp_path / "in"
    busy = node(inbox, "busy", stale=1.5, min_age=0)
    drop_complete(inbox, "slow.x12", b"ISA~slow")
    item = busy.poll()[0][0]
    other = node(inbox, "other", stale=1.5, min_age=0)
    deadline = time.monotonic() + 4.0  # over two lease periods: the keeper thread renews it meanwhile
    while time.monotonic() < deadline:
        assert other.poll()[0] == []
        time.sleep(0.2)
    item.ack(None)
    assert (inbox / "processed" / "slow.x12").exists()
    busy.release()
    other.release()


def test_transient_failure_keeps_the_claim_and_a_clean_stop_gives_it_back(tmp_path):
    inbox = tmp_path / "in"
    first = node(inbox, "n1", min_age=0)
    drop_complete(inbox, "x.x12", b"ISA~x")
    item = first.poll()[0][0]
    item.ack(TransientTransportError("store down"))
    second = node(inbox, "n2", min_age=0)
    assert second.poll()[0] == []  # still n1's
    again = first.poll()[0]
    assert [i.name for i in again] == ["x.x12"] and again[0].idempotency_key == item.idempotency_key
    assert first.release() == 1
    assert (inbox / "x.x12").read_bytes() == b"ISA~x" and not (inbox / CLAIMED / "n1").exists()
    taken = poll_for(second, {"x.x12"})["x.x12"]
    assert taken.idempotency_key == item.idempotency_key
    taken.ack(None)
    second.release()


def test_a_new_file_with_a_claimed_name_waits_for_the_first(tmp_path):
    inbox = tmp_path / "in"
    f = node(inbox, "n1", min_age=0)
    drop_complete(inbox, "same.x12", b"ISA~first")
    first = f.poll()[0][0]
    drop_complete(inbox, "same.x12", b"ISA~second")
    items = f.poll()[0]
    assert [read_all(i) for i in items] == [b"ISA~first"]  # the second is not claimed over the first
    assert (inbox / "same.x12").read_bytes() == b"ISA~second"
    first.ack(None)
    second = poll_for(f, {"same.x12"})["same.x12"]
    assert read_all(second) == b"ISA~second"
    second.ack(None)
    assert sorted(p.read_bytes() for p in (inbox / "processed").iterdir()) == [b"ISA~first", b"ISA~second"]
    f.release()


def test_a_node_claims_a_batch_per_poll_and_asks_to_be_polled_again(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_module, "CLAIM_BATCH", 10)  # a claim of 10 out of 25 files (100 by default)
    inbox = tmp_path / "in"
    f = node(inbox, "n1", min_age=0)
    for n in range(25):
        drop_complete(inbox, f"b{n:02}.x12", b"ISA~b")
    items, wait = f.poll()  # min_age 0: complete on the first look
    assert len(items) == 10 and wait == 0  # the rest is left for the other nodes, and for the next poll at once
    assert len([p for p in inbox.iterdir() if p.is_file()]) == 15
    again, wait = f.poll()  # nothing committed: the same ten are offered, no new claim, no hurry
    assert {i.name for i in again} == {i.name for i in items} and wait != 0
    for i in again:
        i.ack(None)
    items, wait = f.poll()
    assert len(items) == 10 and wait == 0
    f.release()
    assert len([p for p in inbox.iterdir() if p.is_file()]) == 15  # the unfinished claims went back


def test_a_node_the_registry_knows_dead_loses_its_claims_at_once(tmp_path):
    """The node registry (a real one, on a SQLite store) says which nodes are gone or stopped: their claims are
    taken at once, however fresh their lease file; a node it does not know keeps the file-system rule (its lease is
    fresh: not taken); a registry that cannot be asked changes nothing."""
    from datetime import timedelta

    from gateway.store.db import create_db_engine
    from gateway.store.migrate import upgrade
    from gateway.store.nodes import NodeRegistry
    from gateway.store.types import utcnow

    engine = create_db_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    beat = timedelta(seconds=5)
    registry = {n: NodeRegistry(engine, heartbeat=beat, node=n) for n in ("alive", "killed", "stopped", "live")}
    for r in registry.values():
        r.register()
    registry["killed"].clock = lambda: utcnow() - 4 * beat  # its last heartbeat: four periods ago (SIGKILL)
    registry["killed"].beat()
    registry["stopped"].stop()
    asked = []

    def gone() -> set[str]:
        asked.append(1)
        return registry["alive"].gone_ids()

    inbox = tmp_path / "in"
    others = {}
    for name in ("killed", "stopped", "live", "unknown"):  # "unknown": a node the registry has no row for
        others[name] = node(inbox, name, stale=600.0, min_age=0)
        drop_complete(inbox, f"{name}.x12", f"ISA~{name}".encode())
        [item] = others[name].poll()[0]
        assert item.path == inbox / CLAIMED / name / f"{name}.x12"
        if name in ("killed", "stopped"):  # their processes are gone: nothing renews their lease files any more
            KEEPER.remove(others[name].claims)  # (in this one process the keeper would, and remake the folder)
    alive = FolderInbound(channel="p/folder", path=inbox, partner_id="p", min_age_seconds=0, claim_node="alive",
                          claim_stale_seconds=600.0, claim_gone=gone)
    alive.ensure_folders()
    items = alive.poll()[0]
    assert sorted(i.name for i in items) == ["killed.x12", "stopped.x12"]  # at once: the leases are seconds old
    assert items[0].transport_id == str(inbox / items[0].name)  # the same idempotency key as in the inbox
    assert not (inbox / CLAIMED / "killed").exists() and not (inbox / CLAIMED / "stopped").exists()
    assert (inbox / CLAIMED / "live" / "live.x12").is_file() and (inbox / CLAIMED / "unknown" / "unknown.x12").is_file()
    assert len(asked) == 1
    for i in items:
        i.ack(None)
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["killed.x12", "stopped.x12"]
    # the registry is asked only when another node's fresh working folder holds files
    for name in ("live", "unknown"):
        [item] = others[name].poll()[0]
        item.ack(None)
    assert alive.poll()[0] == [] and len(asked) == 1
    # the store cannot be asked: the file-system rule alone, no failure
    drop_complete(inbox, "later.x12", b"ISA~later")
    assert [i.name for i in others["live"].poll()[0]] == ["later.x12"]
    engine.dispose()
    (tmp_path / "store.db").unlink()
    (tmp_path / "store.db").mkdir()  # SQLite cannot open it again
    asked.clear()
    assert alive.poll()[0] == [] and len(asked) == 1
    assert (inbox / CLAIMED / "live" / "later.x12").is_file()
    for f in (*others.values(), alive):
        f.release()
