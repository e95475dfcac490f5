import os
import time
from pathlib import Path

import pytest

from gateway.errors import DocumentError, TransientTransportError
from gateway.transports.folder import FolderInbound, FolderOutbound


def inbox(tmp_path: Path, min_age: float = 0.3) -> FolderInbound:
    f = FolderInbound(
        channel="p/in", path=tmp_path / "in", partner_id="p", min_age_seconds=min_age, ignore_suffixes=(".part", ".tmp")
    )
    f.ensure_folders()
    return f


def poll_until_ready(f: FolderInbound, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items, wait = f.poll()
        if items:
            return items
        time.sleep(min(wait or 0.05, 0.2))
    return []


def test_complete_file_is_picked_after_two_stable_looks(tmp_path):
    f = inbox(tmp_path)
    (f.path / "a.x12").write_bytes(b"ISA")
    items, wait = f.poll()
    assert items == [] and wait is not None and 0 < wait <= 0.3
    items = poll_until_ready(f)
    assert [i.name for i in items] == ["a.x12"]
    assert items[0].idempotency_key == poll_until_ready(f)[0].idempotency_key  # same item, same key


def test_file_still_growing_is_not_picked(tmp_path):
    f = inbox(tmp_path, min_age=0.4)
    p = f.path / "growing.x12"
    with open(p, "wb") as w:
        for _ in range(8):
            w.write(b"x" * 100)
            w.flush()
            os.utime(p)  # a writer keeps touching it
            items, _ = f.poll()
            assert items == []
            time.sleep(0.1)
    assert [i.name for i in poll_until_ready(f)] == ["growing.x12"]


def test_temporary_and_hidden_names_are_ignored(tmp_path):
    f = inbox(tmp_path, min_age=0)
    for name in ("a.part", ".hidden", "b.tmp"):
        (f.path / name).write_bytes(b"x")
    (f.path / "sub").mkdir()
    f.poll()
    assert f.poll()[0] == []


def test_ack_moves_to_processed_or_failed_and_transient_leaves_it(tmp_path):
    f = inbox(tmp_path, min_age=0)
    for n in ("ok.x12", "bad.x12", "later.x12"):
        (f.path / n).write_bytes(n.encode())
    f.poll()
    items = {i.name: i for i in f.poll()[0]}
    items["ok.x12"].ack(None)
    items["bad.x12"].ack(DocumentError("broken"))
    items["later.x12"].ack(TransientTransportError("try again"))
    assert (f.path / "processed" / "ok.x12").read_bytes() == b"ok.x12"
    assert (f.path / "failed" / "bad.x12").read_bytes() == b"bad.x12"
    assert (f.path / "later.x12").exists()


def test_commit_never_overwrites_an_earlier_file_of_the_same_name(tmp_path):
    f = inbox(tmp_path, min_age=0)
    for content in (b"first", b"second"):
        (f.path / "same.x12").write_bytes(content)
        f.poll()
        [item] = f.poll()[0]
        item.ack(None)
        f.forget(item)
    got = sorted(p.read_bytes() for p in (f.path / "processed").iterdir())
    assert got == [b"first", b"second"]


def test_outbound_send_is_atomic_and_exact(tmp_path):
    import io

    out = FolderOutbound(channel="p/out", path=tmp_path / "out")
    payload = b"ISA*00*~\r\nGS*FA~\n\xff\xfe"
    r = out.send("ack.x12", io.BytesIO(payload))
    assert Path(r.transport_id).read_bytes() == payload
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["ack.x12"]


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", ""])
def test_outbound_refuses_unsafe_names(tmp_path, name):
    import io

    from gateway.errors import PermanentTransportError

    with pytest.raises(PermanentTransportError):
        FolderOutbound(channel="p/out", path=tmp_path).send(name, io.BytesIO(b"x"))
