"""Shares of a shared inbox among the processes of one ``gateway serve`` (gateway/transports/claims.py, Share):
each process claims its own share at once and another's only once it is overdue, so a process that is busy or gone
strands nothing; the claim (rename) still decides, so a file is never taken twice. Real folders, real renames; the
processes are FolderInbound objects with their own node ids and slots, as in tests/transports/test_folder_claims."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gateway.settings import Settings
from gateway.transports.channels import share_options
from gateway.transports.claims import Share
from gateway.transports.folder import FolderInbound

NAMES = [f"f{n:03}.x12" for n in range(40)]


def member(inbox: Path, node: str, slot: int, *, grace: float, of: int = 2) -> FolderInbound:
    f = FolderInbound(channel="p/folder", path=inbox, partner_id="p", min_age_seconds=0.0, claim_node=node,
                      claim_share=Share(slot, of, grace))
    f.ensure_folders()
    return f


def claim_all(f: FolderInbound) -> set[str]:
    """Poll until a poll claims nothing new (a poll claims at most its process's part of what waits)."""
    names: set[str] = set()
    while True:
        now = {i.name for i in f.poll()[0]}
        if now <= names:
            return names
        names |= now


def drop(inbox: Path) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        p = inbox / name
        p.write_bytes(f"ISA~{name}".encode())
        os.utime(p, (time.time() - 60, time.time() - 60))


def test_each_process_claims_its_own_share_first_and_the_shares_cover_every_file(tmp_path):
    inbox = tmp_path / "in"
    drop(inbox)
    parent, worker = member(inbox, "gw-1", 0, grace=60.0), member(inbox, "gw-1-w1", 1, grace=60.0)
    mine = {f: claim_all(f) for f in (parent, worker)}
    assert mine[parent] and mine[worker] and not mine[parent] & mine[worker]
    assert mine[parent] | mine[worker] == set(NAMES)  # nothing left in the inbox
    assert all(Share(0, 2).first(n) for n in mine[parent]) and all(Share(1, 2).first(n) for n in mine[worker])
    for f in (parent, worker):
        f.release()


def test_a_share_whose_process_does_not_poll_is_taken_once_overdue(tmp_path):
    """The worker is gone (or busy): its share waits ``grace`` seconds past the minimum age, then the parent takes
    it; the poll says when to look again, so the files do not wait for the periodic sweep."""
    inbox = tmp_path / "in"
    drop(inbox)
    parent = member(inbox, "gw-1", 0, grace=0.5)
    first, wait = parent.poll()
    own = {n for n in NAMES if Share(0, 2).first(n)}
    assert {i.name for i in first} == own and own != set(NAMES)
    assert wait is not None and 0 < wait <= 0.5  # the others' share is overdue then
    for i in first:
        i.ack(None)
    assert parent.poll()[0] == []  # not overdue yet: still left to the worker
    time.sleep(wait + 0.05)
    later = claim_all(parent)
    assert later == set(NAMES) - own
    parent.release()


def test_one_slot_of_one_is_no_share_and_settings_give_one_per_process(tmp_path, monkeypatch):
    assert all(Share(0, 1).first(n) for n in NAMES)
    single = Settings(home=tmp_path, inbound_processes=1)
    assert share_options(single) == {}
    monkeypatch.setenv("GATEWAY_PROCESS_SLOT", "1")  # what the worker process sets at start
    assert share_options(Settings(home=tmp_path, inbound_processes=2)) == {"claim_share": Share(1, 2)}
    monkeypatch.setenv("GATEWAY_PROCESS_SLOT", "0")
    assert share_options(Settings(home=tmp_path, inbound_processes=3)) == {"claim_share": Share(0, 3)}



def test_at_the_end_of_a_burst_a_process_claims_only_its_part_of_what_waits(tmp_path):
    """The last files are split between the processes: a process that polls first claims at most its part of the
    complete files (rounded up), not a whole batch, so the other does not idle while it works through them; a
    process takes another's overdue files newest first (their owner takes them oldest first)."""
    inbox = tmp_path / "in"
    drop(inbox)  # 40 files, all of them complete
    # no grace: every file is overdue for either process as soon as it is seen (a burst older than the grace)
    parent, worker = member(inbox, "gw-1", 0, grace=0.0), member(inbox, "gw-1-w1", 1, grace=0.0)
    first = [i.name for i in parent.poll()[0]]
    assert len(first) == 20  # half of the 40 waiting, not up to the batch of 100
    own = [n for n in NAMES if Share(0, 2).first(n)]
    taken = own[:20] if len(own) >= 20 else own + [n for n in reversed(NAMES) if n not in own][: 20 - len(own)]
    assert sorted(first) == sorted(taken)  # its own share oldest first, then the worker's newest first
    second = {i.name for i in worker.poll()[0]}
    assert len(second) == 10 and not second & set(first)  # half of the 20 left
    assert len(parent.poll()[0]) == 25  # its 20 held, and half of the 10 left
    for f in (parent, worker):
        f.release()
