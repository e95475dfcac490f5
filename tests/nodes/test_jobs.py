"""Background work on two nodes sharing one PostgreSQL store is done once (in process: two gateways, two engines).

Deterministic: each test sets up the moment two nodes reach the same work (one node's sweep holding a snapshot
while the other acts, or both released together by a barrier) and checks the outcome in the store and on disk.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from gateway.failpoints import FailPoints
from gateway.runtime import Gateway
from gateway.store.models import MessageStatus
from tests.outbound.conftest import shipment

pytestmark = pytest.mark.postgres
BODY = json.dumps(shipment()).encode()


def _outbox(gw: Gateway) -> list[str]:
    folder = gw.settings.data_path / "channels" / "acme-retail" / "outbound"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def _age(gw: Gateway, message_id: int, seconds: float) -> None:
    """Time passes for a message: its last update and any lease lie ``seconds`` in the past."""
    with gw.engine.begin() as c:
        c.execute(sa.text("UPDATE message SET updated_at = updated_at - make_interval(secs => :s), "
                          "lease_until = lease_until - make_interval(secs => :s) WHERE id = :i"),
                  {"s": seconds, "i": message_id})


def _both(*calls):  # type: ignore[no-untyped-def]
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    out: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        out[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


def test_the_retry_sweep_never_sends_a_queued_document_a_recovery_just_sent(make_node):
    a, b = make_node("node-a"), make_node("node-b")
    channels = a.outbound.channels
    a.outbound.channels = lambda p: []  # the partner has no outbound channel yet: the document waits, queued
    msg = a.documents.submit(BODY, partner_id="acme-retail", set_id="945", idempotency_key="k1").message
    a.outbound.channels = channels  # ... then it has one again
    assert msg.status == MessageStatus.queued and a.store.events(msg.id)[-1].name == "delivery.pending"
    _age(a, msg.id, 600)
    snapshot = a.retries._sweep()  # node A's retry sweep has read the queue ...
    assert [(m.id, what) for m, what in snapshot] == [(msg.id, "pending")]
    assert b.documents.recover() == 1  # ... node B's recovery sends the document meanwhile ...
    assert sum(a.retries._act(m, what) for m, what in snapshot) == 0  # ... A's sweep must not send it again
    assert len(a.store.delivery_attempts(msg.id)) == 1
    assert _outbox(a) == [a.store.get(msg.id).file_name]
    assert a.store.get(msg.id).status == MessageStatus.sent


def test_two_nodes_recovering_the_same_documents_build_and_send_each_once(make_node):
    a, b, dead = make_node("node-a"), make_node("node-b"), make_node("node-dead")
    dead.documents.failpoints = FailPoints("outbound.after_archive=raise")
    ids = []
    for i in range(6):
        with pytest.raises(RuntimeError):  # the node dies after archiving each submission
            dead.documents.submit(BODY, partner_id="acme-retail", set_id="945", idempotency_key=f"d{i}")
        ids.append(dead.store.find_by_key(f"submit:acme-retail:d{i}").id)
    for i in ids:
        _age(dead, i, 600)
    done = _both(lambda: a.documents.recover(), lambda: b.documents.recover())
    assert sum(done) >= len(ids)
    with a.engine.connect() as c:
        built = dict(c.execute(sa.text("SELECT message_id, count(*) FROM event WHERE name = 'document.built' "
                                       "GROUP BY message_id")).all())
    assert built == dict.fromkeys(ids, 1)
    assert all(len(a.store.delivery_attempts(i)) == 1 for i in ids)
    assert len(_outbox(a)) == len(ids)


def test_a_live_nodes_document_in_flight_is_left_to_it(make_node):
    a, b = make_node("node-a"), make_node("node-b")
    a.documents.failpoints = FailPoints("outbound.after_archive=raise")
    with pytest.raises(RuntimeError):
        a.documents.submit(BODY, partner_id="acme-retail", set_id="945", idempotency_key="live")
    msg = a.store.find_by_key("submit:acme-retail:live")
    assert a.document_leases.take(msg.id)  # node A is at it again (a request thread), its lease fresh
    assert b.documents.recover(startup=True) == 0  # B starting leaves it
    assert b.store.get(msg.id).status == MessageStatus.archived
    a.nodes.register()
    b.nodes.register()
    a.document_leases.release(msg.id)
    with a.engine.begin() as c:  # node A dies: no heartbeat any more
        c.execute(sa.text("UPDATE gateway_node SET last_seen = last_seen - interval '1 hour' "
                          "WHERE node_id = 'node-a'"))
    assert b.documents.recover(startup=True) == 1
    assert b.store.get(msg.id).status == MessageStatus.sent


def test_whole_store_sweeps_run_on_one_node_at_a_time(make_node):
    a, b = make_node("node-a"), make_node("node-b")
    runs: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def job(name: str):  # type: ignore[no-untyped-def]
        def run() -> str:
            runs.append(name)
            inside.set()
            release.wait(10)
            return name
        return run

    ja, jb = a._sweep("as2.retry", job("a")), b._sweep("as2.retry", job("b"))
    ta = threading.Thread(target=ja)
    ta.start()
    assert inside.wait(10)
    assert jb() is None  # B skips this run while A sweeps
    release.set()
    ta.join(10)
    assert runs == ["a"]
    assert jb() == "b"  # and sweeps once A is done


def test_two_nodes_purging_the_archive_at_once_purge_each_message_once(make_node):
    a, b = make_node("node-a", archive_retention_days=1), make_node("node-b", archive_retention_days=1)
    ids = [a.documents.submit(BODY, partner_id="acme-retail", set_id="945").message.id for _ in range(5)]
    with a.engine.begin() as c:
        c.execute(sa.text("UPDATE message SET created_at = created_at - interval '3 days'"))
    results = _both(lambda: a.purge_archive(), lambda: b.purge_archive())
    assert sum(r.messages for r in results) == len(ids)
    with a.engine.connect() as c:
        purged = c.execute(sa.text("SELECT message_id, count(*) FROM event WHERE name = 'archive.purged' "
                                   "GROUP BY message_id")).all()
    assert sorted(purged) == [(i, 1) for i in ids]


def test_a_node_registers_beats_and_is_shown_gone_when_its_heartbeat_stops(make_node):
    from gateway import metrics

    a, b = make_node("node-a"), make_node("node-b")
    for gw in (a, b):
        gw.nodes.heartbeat = timedelta(seconds=0.2)
        gw.nodes.start()
    msg = a.documents.submit(BODY, partner_id="acme-retail", set_id="945", deliver=False).message
    assert a.leases.take(msg.id)
    a.nodes.beat()
    states = {n["node_id"]: n for n in b.nodes.nodes()}
    assert {k: v["state"] for k, v in states.items()} == {"node-a": "live", "node-b": "live"}
    assert states["node-a"]["working"]["leases"]["messages"] == 1
    metrics.set_node_source(b.nodes.nodes)
    try:
        text = metrics.render(b).decode()
        assert 'gateway_nodes{state="live"} 2.0' in text
        assert 'gateway_node_leases{kind="messages",node="node-a"} 1.0' in text
    finally:
        metrics.set_node_source(None)
    a.nodes._stop.set()  # node A's heartbeat stops (the process hangs or died) ...
    a.nodes._thread.join(5)
    with a.engine.begin() as c:
        c.execute(sa.text("UPDATE gateway_node SET last_seen = last_seen - interval '1 second' "
                          "WHERE node_id = 'node-a'"))
    states = {n["node_id"]: n["state"] for n in b.nodes.nodes()}
    assert states == {"node-a": "gone", "node-b": "live"}
    assert b.nodes.gone_ids() == {"node-a"}
    assert b.leases.take(msg.id)  # ... and its lease is taken without waiting for it to run out
    b.nodes.stop()
    assert {n["node_id"]: n["state"] for n in a.nodes.nodes()}["node-b"] == "stopped"


def test_two_nodes_recovering_the_same_inbound_messages_process_each_once(make_node, repo_root):
    from gateway.transports.folder import FolderInbound
    from tests.support.gateway_home import drop

    a, b, dead = make_node("node-a"), make_node("node-b"), make_node("node-dead")
    inbox = dead.settings.data_path / "channels" / "harbor-3pl" / "inbound"
    src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    inbox.mkdir(parents=True, exist_ok=True)
    for i in range(4):  # four interchanges (ISA13/IEA02 changed: the same one twice would be a duplicate)
        variant = dead.settings.data_path / f"asn-{i}.edi"
        variant.write_bytes(src.read_bytes().replace(b"000000091", f"00000009{i + 2}".encode()))
        drop(variant, inbox)
    folder = FolderInbound(channel="harbor-3pl/inbox", path=inbox, partner_id="harbor-3pl", min_age_seconds=0)
    items, _ = folder.poll()
    assert len(items) == 4
    dead.inbound.failpoints = FailPoints("inbound.after_archive=raise")
    held = []
    for item in items:  # the dead node archived each file and died holding its lease
        with pytest.raises(RuntimeError):
            dead.inbound.receive(item)
        msg = dead.store.find_by_key(item.idempotency_key)
        assert dead.leases.take(msg.id)
        held.append(msg.id)
    assert a.inbound.recover(startup=True) == [] and b.inbound.recover(startup=True) == []  # its leases are live
    for i in held:
        _age(dead, i, 600)  # ... until they run out
    got = _both(lambda: a.inbound.recover(startup=True), lambda: b.inbound.recover(startup=True))
    assert sorted(got[0] + got[1]) == held  # each resumed by one node
    with a.engine.connect() as c:
        acked = dict(c.execute(sa.text("SELECT message_id, count(*) FROM event WHERE name = 'message.acked' "
                                       "GROUP BY message_id")).all())
        acks = c.execute(sa.text("SELECT count(*) FROM message WHERE idempotency_key LIKE 'ack:%'")).scalar()
    assert acked == dict.fromkeys(held, 1) and acks == len(held)  # acknowledged once, one 997 each


def test_the_inbound_recovery_sweep_asks_the_node_registry_once_for_messages_another_node_holds(make_node, repo_root):
    """A parent's recovery sweep meets the messages its inbound worker process has in flight (up to a batch, all
    leased to the worker): the registry is asked which nodes are gone once per sweep, not once per message."""
    from gateway.transports.folder import FolderInbound
    from tests.support.gateway_home import drop

    a, busy = make_node("node-a"), make_node("node-busy")
    inbox = busy.settings.data_path / "channels" / "harbor-3pl" / "inbound"
    src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    inbox.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        variant = busy.settings.data_path / f"asn-{i}.edi"
        variant.write_bytes(src.read_bytes().replace(b"000000091", f"00000009{i + 2}".encode()))
        drop(variant, inbox)
    items, _ = FolderInbound(channel="harbor-3pl/inbox", path=inbox, partner_id="harbor-3pl",
                             min_age_seconds=0).poll()
    busy.inbound.failpoints = FailPoints("inbound.after_archive=raise")
    for item in items:  # archived, then held by the live node as a batch in flight is
        with pytest.raises(RuntimeError):
            busy.inbound.receive(item)
        assert busy.leases.take(busy.store.find_by_key(item.idempotency_key).id)
    asked = []
    registry = a.leases.gone

    def gone() -> set[str]:
        asked.append(1)
        return registry()

    a.leases.gone = gone
    assert a.inbound.recover(startup=False) == []  # a live node's messages are left to it
    assert len(asked) == 1
