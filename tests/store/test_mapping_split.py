"""A large interchange mapped on two cores (gateway/flows/mapping_split.py): a forked child maps every other block
of sets; the step writes the same canonical JSON, keys and events as when this process maps alone, also with
mapping errors, sets without a mapping, bare sets and several groups and versions; a child that dies, hangs or
sends what does not match makes the step map the file alone (same result); the child is always reaped."""

from __future__ import annotations

import os
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from gateway.failpoints import FailPoints
from gateway.flows import mapping_split
from gateway.flows.mapping_step import MappingStep
from gateway.partners.loader import load_partner_file
from gateway.store.archive import Archive
from gateway.store.models import Direction, MessageStatus
from gateway.store.repository import Store

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from e2e import Templates  # noqa: E402

pytestmark = pytest.mark.skipif(not mapping_split.available(), reason="needs os.fork")


def _interchange() -> bytes:
    """Two interchanges (004010 856s with some broken and some sets no mapping reads, then a 005010 group) and a
    bare set after them."""
    t = Templates()
    bodies = [t.body_856(n) for n in range(1, 41)]
    for n in (5, 17, 18, 33):  # BSN02 (required) missing: a MappingError for that set
        bodies[n] = [s if not s.startswith("BSN*") else "BSN*00**20090921*0801" for s in bodies[n]]
    first = t.interchange("856", 1, bodies)
    unknown = b"ST*999*0001~BGN*00*X~SE*3*0001~"
    second = t.interchange("856", 2, [t.body_856(n) for n in range(41, 52)])
    second = second.replace(b"ST*856*", unknown + b"ST*856*", 1).replace(b"*004010~", b"*005010~")
    bare = b"ST*856*0099~BSN*00*SH-BARE*20200101~HL*1**S~REF*BM*BOL-BARE~HL*2*1*O~PRF*PO-BARE~SE*7*0099~"
    return first + second + bare


def _step(store: Store, archive: Archive, split: bool, failpoints: str = "") -> MappingStep:
    return MappingStep(store=store, archive=archive, mappings_root=REPO / "mappings", overrides_dir=None,
                       split_bytes=1 if split else None, failpoints=FailPoints(failpoints))


def _map(store: Store, archive: Archive, data: bytes, name: str, *, split: bool, failpoints: str = "") -> tuple:
    blob = archive.put_bytes(data)
    msg, _ = store.create_message(direction=Direction.inbound, status=MessageStatus.acked, idempotency_key=name,
                                  file_name="large.edi", sha256=blob.sha256, archive_key=blob.key, size=blob.size,
                                  events=[])
    store.apply(_step(store, archive, split, failpoints).batch(msg, load_partner_file(REPO / "partners" /
                                                                                     "harbor-3pl.yaml")))
    (out,) = store.outputs(msg.id)
    events = [(e.name, e.detail) for e in store.events(msg.id)]
    keys = sorted((k.kind, k.value, k.norm) for k in store.business_keys(msg.id))
    return archive.read_bytes(out.archive_key), events, keys


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(mapping_split, "BLOCK", 3)


@pytest.fixture
def archive(tmp_path):
    return Archive(tmp_path / "archive")


def _all_children() -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()}
    except OSError:  # pragma: no cover - not Linux
        return set()


_BEFORE: set[int] = set()


@pytest.fixture(autouse=True)
def _other_children():
    """Children the test process had before the test (servers other tests of the session started) are not ours."""
    _BEFORE.clear()
    _BEFORE.update(_all_children())


def _children() -> set[int]:
    """This process's children made during the test (the split's)."""
    return _all_children() - _BEFORE


def test_split_writes_what_one_process_writes(store, archive, small_blocks):
    data = _interchange()
    alone = _map(store, archive, data, "alone", split=False)
    split = _map(store, archive, data, "split", split=True)
    assert split == alone
    text, events, _keys = split
    assert text.count(b'"error"') == 5 and b"SH-BARE" in text  # 4 broken 856s and the 999; the bare set mapped
    assert events[-1][0] == "mapping.failed" and events[-1][1]["records"] == 48
    assert _children() == set()  # reaped


@pytest.mark.parametrize("block", [1, 2, 7, 100])
def test_any_block_size(store, archive, monkeypatch, block):
    monkeypatch.setattr(mapping_split, "BLOCK", block)
    data = _interchange()
    assert _map(store, archive, data, f"s{block}", split=True) == _map(store, archive, data, f"a{block}", split=False)


def test_a_child_killed_mid_way_leaves_this_process_to_map_alone(store, archive, small_blocks):
    data = _interchange()
    alone = _map(store, archive, data, "alone", split=False)
    assert _map(store, archive, data, "killed", split=True, failpoints="mapping.split_child=kill") == alone
    assert _children() == set()


def test_a_hung_child_is_given_up(store, archive, small_blocks, monkeypatch):
    monkeypatch.setattr(mapping_split, "WAIT", 1.0)
    data = _interchange()
    alone = _map(store, archive, data, "alone", split=False)
    assert _map(store, archive, data, "hung", split=True, failpoints="mapping.split_child=hang") == alone
    assert _children() == set()


def test_a_child_whose_sets_do_not_match_is_given_up(store, archive, small_blocks, monkeypatch):
    real = mapping_split._childs
    monkeypatch.setattr(mapping_split, "_childs", lambda i: real(i) or i == 0)  # one set too many
    data = _interchange()
    alone = _map(store, archive, data, "alone", split=False)
    assert _map(store, archive, data, "odd", split=True) == alone
    assert _children() == set()


def test_the_child_ends_when_this_process_gives_up(archive, small_blocks):
    """The caller stops reading (an error elsewhere): the child is killed and reaped at once."""
    data = _interchange()
    blob = archive.put_bytes(data)
    with ExitStack() as stack:
        items = mapping_split.split_mapped(lambda: archive.open(blob.key), {}, file=None, root=REPO / "mappings",
                                           work=lambda tx, item: (tx.index,), stack=stack)
        got = [next(items) for _ in range(8)]
        assert [type(item) is tuple for _tx, item in got] == [False] * 3 + [True] * 3 + [False] * 2
        assert len(_children()) == 1
    assert _children() == set()


def test_an_orphaned_child_exits(archive, small_blocks, tmp_path):
    """This process dies (kill -9) while the child maps: the child's next write fails and it exits."""
    blob = archive.put_bytes(_interchange())
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a stand-in for the server: starts the split, reports the child's pid, then waits to be killed
        try:
            os.close(r)
            with ExitStack() as stack:
                items = mapping_split.split_mapped(lambda: archive.open(blob.key), {}, file=None,
                                                   root=REPO / "mappings",
                                                   work=lambda tx, item: (tx.index, "x" * 200_000), stack=stack)
                next(items)  # the child's blocks fill the pipe: it waits to write
                kids = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
                os.write(w, (" ".join(kids) + "\n").encode())
                signal.pause()
        finally:
            os._exit(1)
    os.close(w)
    with os.fdopen(r) as fp:
        (child,) = map(int, fp.readline().split())
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    for _ in range(100):
        try:  # gone, or a zombie (exited; this container's init may not reap it)
            if Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return
        except OSError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the orphaned mapping child did not exit")


@pytest.mark.parametrize(("mb", "expected"), [(None, 2 << 20), (0, None), (0.5, 1 << 19)])
def test_mapping_split_mb_setting_reaches_the_mapping_step(tmp_path, mb, expected):
    from gateway.runtime import Gateway
    from gateway.settings import load_settings
    from tests.support.gateway_home import make_home

    home = make_home(tmp_path)
    extra = {} if mb is None else {"mapping_split_mb": mb}
    gw = Gateway(load_settings(home / "config" / "gateway.yaml", **extra))
    try:
        assert gw.inbound.mapping.split_bytes == expected
    finally:
        gw.stop()
