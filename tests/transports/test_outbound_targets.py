"""Which transport objects a delivery uses: folder channels (a name and a path, nothing else) are reused for the
partner object delivered to last; any other transport is made for each delivery; a reloaded partner (a new object)
gets its channels anew. And the folder send itself: the bytes, the name, nothing left behind, a missing folder made,
a failed write leaving no temporary file. Real store (SQLite and PostgreSQL), real archive, real folders."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from gateway.errors import TransientTransportError
from gateway.flows.outbound import OutboundFlow
from gateway.partners.loader import load_partners
from gateway.store.archive import Archive
from gateway.store.batch import Batch
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from gateway.store.models import Direction, MessageStatus
from gateway.store.repository import Store
from gateway.transports.folder import FolderOutbound
from gateway.transports.memory import MemoryOutbound, MemoryServer
from tests.support.gateway_home import REPO


@pytest.fixture
def env(database_url, tmp_path):
    engine = create_db_engine(database_url)
    upgrade(engine)
    store, archive = Store(engine), Archive(tmp_path / "archive")
    partners, problems = load_partners(REPO / "partners")
    assert not problems
    partner = next(p for p in partners if p.id == "acme-retail")
    yield store, archive, partner
    engine.dispose()


def queued(store, archive, partner, name):
    blob = archive.put_bytes(f"ISA~997~{name}".encode())
    msg, _ = store.create_message(
        direction=Direction.outbound, status=MessageStatus.queued, partner_id=partner.id, file_name=name,
        size=blob.size, sha256=blob.sha256, archive_key=blob.key,
        events=[("message.queued", MessageStatus.queued, None)],
    )
    return msg


def test_folder_channels_are_reused_for_the_same_partner_object_only(env, tmp_path):
    store, archive, partner = env
    made: list[FolderOutbound] = []

    def channels(p):
        made.append(FolderOutbound(channel=f"{p.id}/out", path=tmp_path / "out" / p.id))
        return [made[-1]]

    flow = OutboundFlow(store=store, archive=archive, channels=channels)
    sent = Batch()
    msgs = [flow.deliver(queued(store, archive, partner, f"a{i}.x12"), partner, batch=sent) for i in range(3)]
    assert [m.status for m in msgs] == [MessageStatus.queued] * 3  # in step once the batch is written
    store.apply(sent)
    assert [m.status for m in msgs] == [MessageStatus.sent] * 3
    assert [store.get(m.id).status for m in msgs] == [MessageStatus.sent] * 3
    assert [store.get(m.id).transport_id for m in msgs] == [str(tmp_path / "out" / partner.id / f"a{i}.x12")
                                                            for i in range(3)]
    assert len(made) == 1
    reloaded = partner.model_copy()  # a partner file read again: a new object
    flow.deliver(queued(store, archive, reloaded, "b.x12"), reloaded)
    assert len(made) == 2
    got = sorted(p.name for p in (tmp_path / "out" / partner.id).iterdir())
    assert got == ["a0.x12", "a1.x12", "a2.x12", "b.x12"]
    for name in got:
        assert (tmp_path / "out" / partner.id / name).read_bytes() == f"ISA~997~{name}".encode()


def test_other_transports_are_made_for_each_delivery(env):
    store, archive, partner = env
    server = MemoryServer()
    made: list[MemoryOutbound] = []

    def channels(_p):
        made.append(MemoryOutbound(server, channel="p/mem"))
        return [made[-1]]

    flow = OutboundFlow(store=store, archive=archive, channels=channels)
    for i in range(2):
        assert flow.deliver(queued(store, archive, partner, f"m{i}.x12"), partner).status == MessageStatus.sent
    assert len(made) == 2


def test_folder_send_writes_the_bytes_under_the_name_and_nothing_else(tmp_path):
    out = FolderOutbound(channel="p/out", path=tmp_path / "new" / "out")  # made on first use
    payload = b"ISA*00*~" * 200_000  # more than one read of the source
    receipt = out.send("big.x12", io.BytesIO(payload))
    assert receipt.transport_id == str(tmp_path / "new" / "out" / "big.x12")
    assert Path(receipt.transport_id).read_bytes() == payload
    assert os.listdir(tmp_path / "new" / "out") == ["big.x12"]
    for folder in (Path("."), Path("out-rel"), Path("/")):  # a file's name is the one pathlib gives it
        assert FolderOutbound(channel="p/out", path=folder)._prefix + "x.x12" == str(folder / "x.x12")


def test_a_failed_folder_send_leaves_no_temporary_file(tmp_path):
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            raise OSError(5, "Input/output error")

    out = FolderOutbound(channel="p/out", path=tmp_path)
    with pytest.raises(TransientTransportError):
        out.send("x.x12", Broken())
    assert os.listdir(tmp_path) == []
