"""kill -9 of ``gateway serve`` while a large file's business keys are written ahead of its envelope step (KeyTap):
after the mark of where they begin (``inbound.after_key_mark``) or once the file is refused with chunks of keys
written, before they are deleted (``inbound.before_forget_keys``). The restart reads the file again: a refused file
ends with its file name's key only, a usable one with its keys; either way no reading is left unsettled."""

from __future__ import annotations

import pytest

from gateway.edi.x12 import X12Reader
from gateway.flows.batching import KEY_CHUNK
from gateway.flows.business_keys import iter_business_keys
from gateway.settings import load_settings
from gateway.store.db import create_db_engine
from gateway.store.models import Direction, MessageStatus
from gateway.store.records import normalise_keys
from gateway.store.repository import Store
from tests.support.gateway_home import drop, wait_for
from tests.support.large_x12 import JUNK, large_856
from tests.support.serve import ServeProcess, killed_at


@pytest.fixture
def store(home, db_env):
    url = load_settings(home / "config" / "gateway.yaml", database_url=db_env.get("GATEWAY_DATABASE_URL")).database
    engine = create_db_engine(url)
    yield Store(engine)
    engine.dispose()


def _inbound(store: Store):
    return store.list_messages(direction=Direction.inbound).items


@pytest.mark.parametrize(("point", "refused"), [
    ("inbound.before_forget_keys", True),
    ("inbound.after_key_mark", True),
    ("inbound.after_key_mark", False),
])
def test_kill_9_while_a_large_files_keys_are_written_then_restart_settles_them(home, db_env, store, tmp_path,
                                                                              point, refused):
    good = large_856()
    src = tmp_path / "big.edi"
    src.write_bytes(good + JUNK if refused else good)
    inbox = home / "var" / "channels" / "harbor-3pl" / "inbound"
    killed_at(home, point, lambda _: drop(src, inbox), env=db_env, timeout=90)
    (msg,) = _inbound(store)
    assert msg.unsettled_keys_after is not None  # the killed reading's mark, in the store
    if point == "inbound.before_forget_keys":  # its chunks are written: keys of a refused file, for now
        assert len(store.business_keys(msg.id)) > KEY_CHUNK

    second = ServeProcess(home, env=db_env)
    try:
        second.wait_healthy(timeout=60)
        final = MessageStatus.failed if refused else MessageStatus.acked

        def settled():
            (m,) = _inbound(store)
            return m if m.status == final and not (inbox / "big.edi").exists() else None

        msg = wait_for(settled, timeout=120, interval=0.5)
    finally:
        second.stop()
    keys = {(k.kind, k.value) for k in store.business_keys(msg.id)}
    if refused:
        assert "no readable sender" in (msg.reason or "")
        assert keys == {("file", "big.edi")}
    else:
        assert set(normalise_keys(iter_business_keys(X12Reader(good)))) | {("file", "big.edi")} <= keys
    assert store.get(msg.id).unsettled_keys_after is None
    assert len(_inbound(store)) == 1
