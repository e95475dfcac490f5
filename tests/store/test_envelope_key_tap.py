"""A large file's business keys (over ``KEYS_FROM_ANALYSIS_BYTES``) come from the envelope step's own analysis of
the archived bytes (``KeyTap``), chunk by chunk as it reads them: the archive is read once, the same keys are
indexed, and a file the analysis then refuses as not X12 keeps no keys but its file name's (the chunks written
while it was read are deleted again), on both backends; a reprocess whose reading fails keeps the keys of the
earlier reading (the deletion takes only what the failed reading added: records.forget_unsettled_keys)."""

from __future__ import annotations

import errno
from contextlib import contextmanager
from pathlib import Path

from gateway.edi.x12 import X12Reader
from gateway.flows.batching import KEY_CHUNK
from gateway.flows.business_keys import iter_business_keys
from gateway.flows.inbound import KEYS_FROM_ANALYSIS_BYTES
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.models import MessageStatus
from gateway.store.records import normalise_keys
from gateway.transports.folder import FolderInbound
from tests.support.gateway_home import make_home
from tests.support.large_x12 import JUNK, large_856


def _large() -> bytes:
    data = large_856()
    assert len(data) > KEYS_FROM_ANALYSIS_BYTES
    return data


def _gateway(tmp_path: Path, database_url: str) -> Gateway:
    home = make_home(tmp_path / "home")
    gw = Gateway(load_settings(home / "config" / "gateway.yaml", database_url=database_url))  # not started
    gw.inbound.mapping = None  # the envelope step and the 997 only: the mapping reads the archive on its own
    gw.inbound.handoff = None
    return gw


def _receive(gw: Gateway, data: bytes):
    inbox = gw.settings.data_path / "channels" / "harbor-3pl" / "inbound"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "big.edi").write_bytes(data)
    folder = FolderInbound(channel="harbor-3pl/inbox", path=inbox, partner_id="harbor-3pl", min_age_seconds=0)
    items, _ = folder.poll()
    (msg,) = gw.inbound.receive_many(items)
    return msg


def test_a_large_files_keys_come_from_its_one_reading(tmp_path, database_url):
    gw = _gateway(tmp_path, database_url)
    try:
        opened: list[str] = []
        archive_open = gw.inbound.archive.open

        def counting(key):
            opened.append(key)
            return archive_open(key)

        gw.inbound.archive.open = counting  # type: ignore[method-assign]
        data = _large()
        msg = _receive(gw, data)
        assert msg.status == MessageStatus.acked
        assert opened.count(msg.archive_key) == 1  # read once: the analysis, its tap giving the keys
        got = {(k.kind, k.value) for k in gw.store.business_keys(msg.id)}
        assert got == set(normalise_keys(iter_business_keys(X12Reader(data)))) | {("file", "big.edi")}
    finally:
        gw.stop()


def test_a_large_file_refused_as_not_x12_keeps_only_its_file_key(tmp_path, database_url):
    gw = _gateway(tmp_path, database_url)
    try:
        forgotten: list[int] = []
        forget = gw.store.forget_unsettled_keys

        def spy(message_id):
            forgotten.append(forget(message_id))
            return forgotten[-1]

        gw.store.forget_unsettled_keys = spy  # type: ignore[method-assign]
        msg = _receive(gw, _large() + JUNK)
        assert msg.status == MessageStatus.failed and "no readable sender" in (msg.reason or "")
        assert forgotten and forgotten[0] >= KEY_CHUNK  # a chunk was written while the file was read: deleted
        assert [(k.kind, k.value) for k in gw.store.business_keys(msg.id)] == [("file", "big.edi")]
        assert gw.store.get(msg.id).unsettled_keys_after is None
    finally:
        gw.stop()


class _FailingDisk:
    """The archived bytes, 32 KB a read, up to ``good`` of them; then the error a failing disk gives."""

    def __init__(self, src, good: int) -> None:
        self.src, self.left = src, good

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError(errno.EIO, "Input/output error")
        data = self.src.read(min(32768 if n < 0 else n, 32768, self.left))
        self.left -= len(data)
        return data


def test_a_reprocess_whose_reading_fails_keeps_the_keys_of_the_earlier_reading(tmp_path, database_url):
    """Reprocessed, the message's archived bytes fail to read near their end (after chunks of keys were written):
    the keys its first reading indexed (and one the mapping layer recorded) all stay."""
    gw = _gateway(tmp_path, database_url)
    try:
        data = _large()
        msg = _receive(gw, data)
        assert msg.status == MessageStatus.acked
        gw.store.record_business_keys(msg.id, [("order", "ORDER-FROM-MAPPING")])
        before = {(k.kind, k.value) for k in gw.store.business_keys(msg.id)}
        assert len(before) > KEY_CHUNK
        archive_open = gw.inbound.archive.open

        @contextmanager
        def failing(key):
            with archive_open(key) as src:
                yield _FailingDisk(src, good=len(data) * 9 // 10)

        gw.inbound.archive.open = failing  # type: ignore[method-assign]
        again = gw.inbound.resume(msg.id, actor="api-key:support")
        assert again.status == MessageStatus.failed and "Input/output error" in (again.reason or "")
        assert {(k.kind, k.value) for k in gw.store.business_keys(msg.id)} == before
        assert gw.store.get(msg.id).unsettled_keys_after is None
    finally:
        gw.stop()
