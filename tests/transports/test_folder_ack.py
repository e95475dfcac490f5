"""Committing a folder file: moved to processed/ or failed/ by one rename, once."""

from gateway.errors import PermanentTransportError
from gateway.transports.folder import FolderInbound


def test_a_second_ack_of_a_committed_file_is_a_no_op(tmp_path):
    inbox = FolderInbound(channel="p/in", path=tmp_path, min_age_seconds=0)
    inbox.ensure_folders()
    (tmp_path / "a.edi").write_bytes(b"ISA*a~")
    (item,), _ = inbox.poll()
    item.ack()
    assert item.committed == tmp_path / "processed" / "a.edi"
    item.committed = None
    item.ack()  # again (a resumed message): the file is gone from the inbox, nothing happens
    item.ack(PermanentTransportError("bad"))
    assert item.committed is None
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.edi"]
    assert (tmp_path / "processed" / "a.edi").read_bytes() == b"ISA*a~"


def test_ack_makes_a_removed_processed_folder_and_never_overwrites(tmp_path):
    inbox = FolderInbound(channel="p/in", path=tmp_path, min_age_seconds=0)
    inbox.ensure_folders()
    (tmp_path / "processed").rmdir()
    (tmp_path / "a.edi").write_bytes(b"one")
    (first,), _ = inbox.poll()
    first.ack()
    (tmp_path / "a.edi").write_bytes(b"two")
    (second,), _ = inbox.poll()
    second.ack()
    assert (tmp_path / "processed" / "a.edi").read_bytes() == b"one"
    assert second.committed == tmp_path / "processed" / "a.1.edi" and second.committed.read_bytes() == b"two"
