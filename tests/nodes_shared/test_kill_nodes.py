"""The proof that several nodes share the work exactly once: three real ``gateway serve`` on one PostgreSQL
database, one shared archive, one shared inbox; 300 distinct 940s dropped while nodes are killed with SIGKILL at
random (seeded) moments and started again. At the end every file is one message, acknowledged once with one 997,
mapped once and handed off once, the 997s' control numbers are unique, and no step left its event twice."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.nodes_shared.support import inbox, node_env, node_home, order_940, outbox, rows, shared_database
from tests.support.serve import ServeProcess

FILES = 300
SEED = 18
DEADLINE_SECONDS = 150.0  # a bound; it settles in about a minute on an otherwise idle 2-core machine
# steps that must be on each inbound message's timeline exactly once
ONCE = ("message.received", "message.archived", "ack.generated", "message.acked", "mapping.done", "handoff.released",
        "handoff.delivered")
# at most once: a node killed between delivering the 997 and the message's final step leaves it out (the 997's own
# message.sent event, checked below, is the proof of delivery)
AT_MOST_ONCE = ("ack.sent",)

pytestmark = pytest.mark.postgres


def drop_all(folder: Path, start: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(start, start + count):
        tmp = folder / f".order-{n:04d}.x12.part"
        tmp.write_bytes(order_940(n))
        tmp.rename(folder / f"order-{n:04d}.x12")


def state(url: str, shared: Path) -> dict[str, object]:
    """Where the work stands (for a failure message)."""
    return {
        "inbox": len([p for p in inbox(shared).iterdir() if p.is_file()]),
        "claimed": Counter(p.parent.name for p in (inbox(shared) / ".claimed").glob("*/*.x12")),
        "inbound": {s: n for s, n in rows(url, "SELECT status, count(*) FROM message WHERE direction='inbound' "
                                               "GROUP BY status")},
        "handed_off": rows(url, "SELECT count(DISTINCT message_id) FROM event WHERE name='handoff.delivered'")[0][0],
    }


def settled(url: str, shared: Path) -> bool:
    left = [p for p in inbox(shared).iterdir() if p.is_file()] + list((inbox(shared) / ".claimed").glob("*/*.x12"))
    if left:
        return False
    (done,), = rows(url, """SELECT count(*) FROM message m WHERE direction='inbound' AND status='acked' AND EXISTS
                            (SELECT 1 FROM event e WHERE e.message_id=m.id AND e.name='handoff.delivered')""")
    return done >= FILES


def test_three_nodes_killed_at_random_process_every_file_exactly_once(tmp_path):
    shared = tmp_path / "shared"
    rnd = random.Random(SEED)
    with shared_database() as url:
        env = node_env(url, shared, GATEWAY_FOLDER__CLAIM_STALE_SECONDS="3", GATEWAY_OUTBOUND_LEASE_SECONDS="5",
                       GATEWAY_HANDOFF_SWEEP_SECONDS="0.5", GATEWAY_FOLDER__MIN_AGE_SECONDS="0.3",
                       GATEWAY_FOLDER__SWEEP_SECONDS="1")
        homes = [node_home(tmp_path / f"node{i}", shared) for i in range(3)]
        nodes = [ServeProcess(h, env=env) for h in homes]
        kills = 0
        try:
            for n in nodes:
                n.wait_healthy(timeout=90)
            started = time.monotonic()
            dropped = 0
            next_kill = started + rnd.uniform(1.0, 3.0)
            while time.monotonic() - started < DEADLINE_SECONDS:
                if dropped < FILES:
                    batch = min(25, FILES - dropped)
                    drop_all(inbox(shared), dropped, batch)
                    dropped += batch
                if time.monotonic() >= next_kill and kills < 5:
                    victim = rnd.randrange(3)
                    nodes[victim].proc.kill()  # SIGKILL: no clean stop, its claims and leases stay behind
                    nodes[victim].proc.wait()
                    nodes[victim].stop()
                    kills += 1
                    nodes[victim] = ServeProcess(homes[victim], env=env)
                    next_kill = time.monotonic() + rnd.uniform(2.0, 5.0)
                if dropped == FILES and kills >= 5 and settled(url, shared):
                    break
                time.sleep(0.3)
            took = time.monotonic() - started
            assert settled(url, shared), (
                f"not settled within {DEADLINE_SECONDS}s after {kills} kills: {state(url, shared)}")
        finally:
            for n in nodes:
                n.stop()
        print(f"\n{FILES} files, {kills} SIGKILLs, settled in {took:.1f}s")

        # every file is one message, acked
        inbound = rows(url, "SELECT id, file_name, status FROM message WHERE direction='inbound'")
        assert len(inbound) == FILES and Counter(r[1] for r in inbound) == {f"order-{n:04d}.x12": 1
                                                                              for n in range(FILES)}
        assert {r[2] for r in inbound} == {"acked"}
        # each acknowledged once, with one 997, delivered once into the partner's folder
        links = rows(url, "SELECT message_id, ack_message_id, kind FROM ack_link")
        assert sorted(r[0] for r in links) == sorted(r[0] for r in inbound) and {r[2] for r in links} == {"997"}
        acks = rows(url, "SELECT id, status, file_name FROM message WHERE direction='outbound'")
        assert len(acks) == FILES and {r[1] for r in acks} <= {"sent", "delivered"}
        files = sorted(outbox(shared).glob("*.x12"))
        assert sorted(p.name for p in files) == sorted(r[2] for r in acks)
        # control numbers unique per partner (ISA13 of every 997 sent)
        isa13 = [p.read_text().split("*")[13] for p in files]
        assert len(set(isa13)) == FILES, Counter(isa13).most_common(3)
        # mapped once, handed off once, no step ran twice
        events = rows(url, "SELECT message_id, name, at FROM event ORDER BY id")
        per = Counter((m, name) for m, name, _at in events)
        twice = [(m, name, per[(m, name)]) for m, _f, _s in inbound for name in ONCE if per[(m, name)] != 1]
        twice += [(m, name, per[(m, name)]) for m, _f, _s in inbound for name in AT_MOST_ONCE if per[(m, name)] > 1]
        twice += [(a, "message.sent|delivered", per[(a, "message.sent")] + per[(a, "message.delivered")])
                  for a, _s, _f in acks if per[(a, "message.sent")] + per[(a, "message.delivered")] != 1]
        if twice:
            first = {m for m, _n, _c in twice[:3]}
            timelines = {m: [(name, str(at)[11:23]) for mid, name, at in events if mid == m] for m in first}
            pytest.fail(f"{len(twice)} steps not exactly once: {twice[:10]}; timelines: {timelines}")
        handed = [json.loads(p.read_text()) for p in (shared / "handoff").glob("*.json")]
        assert len(handed) == FILES
        assert len({h["message_id"] for h in handed}) == FILES
        assert not list((inbox(shared) / ".claimed").glob("*/*.x12"))
        assert len(list((inbox(shared) / "processed").glob("*.x12"))) == FILES
