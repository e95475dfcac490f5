"""The folder watcher wakes a poll for what can make a file ready, and not for the gateway's own work in a folder."""

import os
import threading
import time

import pytest

from gateway.transports.folder import FolderInbound
from gateway.transports.watch import FolderWatcher


class Wakes:
    def __init__(self) -> None:
        self.count = 0
        self._cond = threading.Condition()

    def __call__(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def reach(self, n: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count >= n, timeout)


@pytest.fixture
def watcher():
    w = FolderWatcher()
    w.start()
    yield w
    w.stop()


def quiet(wakes: Wakes, seconds: float = 0.8) -> int:
    """Wake count after ``seconds`` (long enough for watchdog's half-second hold of moved-away files)."""
    time.sleep(seconds)
    return wakes.count


def test_a_file_written_or_moved_into_the_inbox_wakes_the_poll(tmp_path, watcher):
    inbox = FolderInbound(channel="p/in", path=tmp_path / "in")
    inbox.ensure_folders()
    wakes = Wakes()
    watcher.watch(inbox.path, wakes, ignored=inbox.ignored)
    (inbox.path / "written.edi").write_bytes(b"ISA*~")
    assert wakes.reach(1)
    (tmp_path / "staged.edi").write_bytes(b"ISA*~")
    os.rename(tmp_path / "staged.edi", inbox.path / "moved-in.edi")  # from a folder nobody watches
    assert wakes.reach(2)
    (inbox.path / ".x.part").write_bytes(b"ISA*~")
    os.rename(inbox.path / ".x.part", inbox.path / "renamed.edi")  # a partner's temporary name, then the real one
    assert wakes.reach(3)
    assert quiet(wakes) == 3  # the temporary file's writing woke nothing


def test_the_gateways_own_work_in_the_inbox_wakes_nothing(tmp_path, watcher):
    inbox = FolderInbound(channel="p/in", path=tmp_path / "in", min_age_seconds=0, claim_node="node-a")
    inbox.ensure_folders()
    for name in ("a.edi", "b.edi", "c.edi"):
        (inbox.path / name).write_bytes(b"ISA*" + name.encode() + b"~")
    wakes = Wakes()
    watcher.watch(inbox.path, wakes, ignored=inbox.ignored)
    items, _ = inbox.poll()  # lists the folder, claims the files (moved into .claimed/node-a/)
    plain = FolderInbound(channel="p/in2", path=tmp_path / "in2", min_age_seconds=0)
    plain.ensure_folders()
    (plain.path / "d.edi").write_bytes(b"ISA*d~")
    wakes2 = Wakes()
    watcher.watch(plain.path, wakes2, ignored=plain.ignored)
    (d,), _ = plain.poll()
    for item in [*items, d]:
        with item.open() as fp:  # read where it lies (in the inbox itself without claims)
            fp.read()
        item.ack()  # moved to processed/
    with plain.path.joinpath("e.edi").open("wb") as fp:  # a partner writing a file, many writes, one close
        for _ in range(50):
            fp.write(b"ISA*e~")
            fp.flush()
    assert wakes2.reach(1)
    assert quiet(wakes) == 0
    assert wakes2.count == 1  # one wake for e.edi, none for reading, listing and moving d.edi out
    assert sorted(p.name for p in (inbox.path / "processed").iterdir()) == ["a.edi", "b.edi", "c.edi"]


def test_a_deletions_watch_also_wakes_for_files_removed_or_moved_away(tmp_path, watcher):
    folder = tmp_path / "partners"
    folder.mkdir()
    (folder / "a.yaml").write_text("id: a\n")
    (folder / "b.yaml").write_text("id: b\n")
    wakes = Wakes()
    watcher.watch(folder, wakes, deletions=True)
    (folder / "a.yaml").unlink()
    assert wakes.reach(1)
    os.rename(folder / "b.yaml", tmp_path / "b.yaml")
    assert wakes.reach(2)


def test_a_burst_of_files_wakes_the_poll_once_per_read_not_once_per_file(tmp_path, watcher):
    inbox = FolderInbound(channel="p/in", path=tmp_path / "in")
    inbox.ensure_folders()
    staged = tmp_path / "staged"
    staged.mkdir()
    for i in range(500):
        (staged / f"f{i:03}.edi").write_bytes(b"ISA*~")
    wakes = Wakes()
    watcher.watch(inbox.path, wakes, ignored=inbox.ignored)
    for i in range(500):
        os.rename(staged / f"f{i:03}.edi", inbox.path / f"f{i:03}.edi")
    assert wakes.reach(1)
    assert 1 <= quiet(wakes, 0.5) < 250  # the kernel's queued events are read together: one wake per read


def test_a_folder_watched_twice_wakes_both_and_unwatching_one_keeps_the_other(tmp_path, watcher):
    folder = tmp_path / "shared"
    first, second = Wakes(), Wakes()
    w1 = watcher.watch(folder, first)
    watcher.watch(folder, second, deletions=True)
    (folder / "a.edi").write_bytes(b"ISA*~")
    assert first.reach(1) and second.reach(1)
    watcher.unwatch(w1)
    (folder / "a.edi").unlink()  # a deletion: only the second asked for those
    assert second.reach(2)
    (folder / "b.edi").write_bytes(b"ISA*~")
    assert second.reach(3)
    assert quiet(first, 0.3) == 1


def test_a_watched_folder_removed_then_unwatched(tmp_path, watcher):
    folder = tmp_path / "gone"
    wakes = Wakes()
    watch = watcher.watch(folder, wakes)
    folder.rmdir()
    time.sleep(0.2)
    watcher.unwatch(watch)  # the kernel dropped the watch already: nothing to do, no error
    other = Wakes()
    watcher.watch(tmp_path / "again", other)
    (tmp_path / "again" / "x.edi").write_bytes(b"ISA*~")
    assert other.reach(1)
    assert wakes.count == 0
