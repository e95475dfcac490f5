"""SFTP behaviour beyond the contract, and its faults, against the real OpenSSH server on loopback."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.errors import (
    AuthenticationError,
    ConnectionLostError,
    HostKeyError,
    ItemVanishedError,
    PermanentTransportError,
    RemoteFullError,
    TransientTransportError,
    UnsafePathError,
)
from gateway.transports.sftp import SftpInbound, _Download, confined, start_prefetch
from tests.transports.contract import poll_for, read_all
from tests.transports.sftp_support import SftpHarness, other_key
from tests.transports.test_sftp_contract import legacy_sshd  # noqa: F401 - the fixture

pytestmark = pytest.mark.sftp


@pytest.fixture
def h(sshd_server):
    return SftpHarness(sshd_server)


def inbound(h: SftpHarness, **over) -> SftpInbound:
    return SftpInbound(replace(h.settings, **over), channel="p/sftp", partner_id="p")


# -- host keys -----------------------------------------------------------------------------------------------
def test_unknown_host_key_refuses_to_connect(h, sshd_server):
    wrong = Path(f"{other_key(sshd_server.base)}.pub").read_text()
    with pytest.raises(HostKeyError) as info:
        inbound(h, host_key=wrong).poll()
    assert "not the pinned one" in str(info.value) and "SHA256:" in str(info.value)


def test_no_pinned_key_refuses_to_connect(h):
    with pytest.raises(HostKeyError, match="never trusts on first use"):
        inbound(h, host_key=None, host_keys=()).poll()


def test_rollover_accepts_any_pinned_key(h, sshd_server):
    old = Path(f"{other_key(sshd_server.base)}.pub").read_text()
    h.drop("a.x12", b"ISA~")
    assert "a.x12" in poll_for(inbound(h, host_key=old, host_keys=(h.settings.host_key,)), {"a.x12"})


def test_legacy_server_needs_legacy_algorithms(legacy_sshd):  # noqa: F811
    h = SftpHarness(legacy_sshd, legacy_algorithms=False)
    with pytest.raises(PermanentTransportError, match="no common SSH algorithm") as info:
        h.inbound().poll()
    assert "legacy_algorithms" in (info.value.hint or "")


# -- credentials and timeouts ----------------------------------------------------------------------------------
def test_wrong_password_is_an_authentication_error(h):
    with pytest.raises(AuthenticationError):
        inbound(h, private_key=None, password="not-the-password").poll()


def test_a_server_that_never_answers_times_out_as_transient(h):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        t0 = time.monotonic()
        with pytest.raises(TransientTransportError):
            inbound(h, port=silent.getsockname()[1], timeout_seconds=1).poll()
        assert time.monotonic() - t0 < 10
    finally:
        silent.close()


def test_secrets_are_not_in_repr(h):
    text = repr(replace(h.settings, password="hunter2"))
    assert "hunter2" not in text and "PRIVATE KEY" not in text


# -- pickup rules ---------------------------------------------------------------------------------------------
def test_one_connection_serves_a_whole_poll(h, sshd_server):
    for n in range(3):
        h.drop(f"f{n}.x12", b"ISA~%d" % n)
    log = sshd_server.base / "sshd.log"
    before = log.read_text(errors="replace").count("Accepted publickey")
    ch = h.inbound()
    items = poll_for(ch, {"f0.x12", "f1.x12", "f2.x12"})
    for item in items.values():
        assert read_all(item)
        item.ack(None)
    ch.close()
    time.sleep(0.2)
    assert log.read_text(errors="replace").count("Accepted publickey") - before == 1


def test_done_file_gates_pickup_and_is_removed_with_the_file(h):
    ch = inbound(h, done_suffix=".done", min_age_seconds=0)
    h.drop("a.x12", b"ISA~a")
    assert ch.poll()[0] == []
    h.drop("a.x12.done", b"")
    [item] = ch.poll()[0]
    assert item.name == "a.x12"
    item.ack(None)
    ch.close()
    assert h.inbox() == set() and h.processed() == {"a.x12": b"ISA~a"}


def test_after_pickup_delete(h):
    ch = inbound(h, after_pickup="delete")
    h.drop("a.x12", b"ISA~a")
    poll_for(ch, {"a.x12"})["a.x12"].ack(None)
    ch.close()
    assert h.inbox() == set() and h.processed() == {}


def test_stable_size_needs_two_equal_looks(h):
    ch = inbound(h, stable_size=True, min_age_seconds=0, poll=1)
    h.drop("a.x12", b"ISA~a")
    items, wait = ch.poll()
    assert items == [] and wait is not None
    with open(h.inpath / "a.x12", "ab") as f:  # still growing
        f.write(b"more")
    assert ch.poll()[0] == []
    assert [i.name for i in ch.poll()[0]] == ["a.x12"]
    ch.close()


def test_pattern_and_temporary_names(h):
    ch = inbound(h, pattern="*.x12")
    for name in ("a.x12", "b.csv", "c.x12.part", ".d.x12"):
        h.drop(name, b"x")
    assert set(poll_for(ch, {"a.x12"})) == {"a.x12"}
    ch.close()


def test_symlinks_and_folders_outside_are_never_offered(h, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    (h.inpath / "link.x12").symlink_to(secret)
    (h.inpath / "dir.x12").mkdir()
    h.drop("real.x12", b"ISA~")
    ch = h.inbound()
    assert set(poll_for(ch, {"real.x12"})) == {"real.x12"}
    ch.close()


@pytest.mark.parametrize("name", ["../x.x12", "a/../../x", "/etc/passwd", "..", "sub/x"])
def test_paths_are_confined(name):
    with pytest.raises(UnsafePathError):
        confined("in", name)


# -- faults ---------------------------------------------------------------------------------------------------
def test_file_disappearing_between_list_and_get(h):
    h.drop("gone.x12", b"ISA~")
    ch = h.inbound()
    item = poll_for(ch, {"gone.x12"})["gone.x12"]
    (h.inpath / "gone.x12").unlink()
    with pytest.raises(ItemVanishedError, match="between listing and download"):
        item.open()
    ch.close()


def _session_pids(server) -> list[int]:
    """The sshd processes serving connections (children of the server this test suite started)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.proc.pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_connection_drop_mid_transfer_loses_nothing(h, sshd_server):
    data = os.urandom(8 << 20)
    h.drop("big.x12", data)
    ch = h.inbound()
    item = poll_for(ch, {"big.x12"})["big.x12"]
    with pytest.raises(ConnectionLostError), item.open() as src:
        src.read(1 << 16)
        for pid in _session_pids(sshd_server):
            os.kill(pid, signal.SIGKILL)
        while src.read(1 << 20):
            pass
    ch.close()
    assert h.inbox() == {"big.x12"}  # nothing committed: the next poll gets it again, whole
    ch = h.inbound()
    again = poll_for(ch, {"big.x12"})["big.x12"]
    assert again.idempotency_key == item.idempotency_key and read_all(again) == data
    ch.close()


def test_connection_lost_while_prefetch_requests_the_file_is_the_readers_error(h, sshd_server):
    """The interleaving that made the test above flaky, forced: the connection is gone before paramiko's prefetch
    thread issues its first read request. Its EOFError must not escape that thread (an unhandled thread exception);
    the reader gets ConnectionLostError instead."""
    h.drop("big.x12", os.urandom(4 << 20))
    ch = h.inbound()
    item = poll_for(ch, {"big.x12"})["big.x12"]
    session = ch.session()
    remote = session.sftp.open(item.path, "rb")
    for pid in _session_pids(sshd_server):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while session.sftp.get_channel().get_transport().is_active() and time.monotonic() < deadline:
        time.sleep(0.05)  # paramiko's transport thread has seen the connection close
    escaped: list[BaseException | None] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: escaped.append(args.exc_value)
    try:
        before = set(threading.enumerate())
        start_prefetch(remote, item.size)
        for thread in set(threading.enumerate()) - before:
            thread.join(timeout=10)
    finally:
        threading.excepthook = previous
    assert escaped == []
    with pytest.raises(ConnectionLostError):
        _Download(remote, "big.x12").read(1 << 16)
    ch.close()


def test_full_remote_disk_is_a_typed_error_and_leaves_nothing(h):
    if os.geteuid() != 0:
        pytest.skip("simulating a full disk needs a tmpfs mount (root)")
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(h.outpath)], capture_output=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.decode().strip()}")
    try:
        with pytest.raises(RemoteFullError):
            h.outbound().send("huge.x12", io.BytesIO(b"x" * (3 << 20)))
        assert h.outbox() == {}
        h.outbound().send("small.x12", io.BytesIO(b"ISA~"))  # the same channel works once there is room
        assert h.outbox() == {"small.x12": b"ISA~"}
    finally:
        subprocess.run(["umount", str(h.outpath)], check=True)


def test_send_overwrites_atomically_and_keeps_no_temp(h):
    out = h.outbound()
    out.send("a.x12", io.BytesIO(b"first"))
    out.send("a.x12", io.BytesIO(b"second"))
    assert h.outbox() == {"a.x12": b"second"}


def test_concurrent_polls_of_one_channel_do_not_double_commit(h):
    """Two gateway instances racing on the same remote file: one commits, the other finds it gone."""
    h.drop("race.x12", b"ISA~")
    a, b = h.inbound(), h.inbound()
    ia, ib = poll_for(a, {"race.x12"})["race.x12"], poll_for(b, {"race.x12"})["race.x12"]
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(i.ack(None))) for i in (ia, ib)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a.close()
    b.close()
    assert h.processed() == {"race.x12": b"ISA~"}
