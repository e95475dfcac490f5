"""Secrets and payload data out of logs and reasons; reasons that say what really happened (issue 12, items 7-8)."""

from __future__ import annotations

import io
import logging
import os
import random

import httpx
import pytest

from gateway.flows.redact import WITHHELD, withhold_data
from gateway.logging import configure_logging, get_logger, mask_url
from gateway.store.models import MessageStatus
from gateway.transports.folder import NAME_MAX, FolderItem
from tests.hardening.listener import listener
from tests.support.gateway_home import idle_gateway

SAMPLE = ("samples", "x12", "856", "harbor-3pl-crossdock.edi")


def test_url_credentials_are_masked():
    assert mask_url("POST https://bob:pa55@as2.example/in?x=1") == "POST https://***@as2.example/in?x=1"
    assert mask_url("GET http://h/p?token=abc&page=2&api_key=k") == "GET http://h/p?token=***&page=2&api_key=***"
    assert mask_url("sftp://user@host/dir") == "sftp://***@host/dir"
    assert mask_url("nothing to hide here") == "nothing to hide here"


@pytest.fixture
def captured():
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    yield stream
    logging.getLogger().handlers.clear()


def test_http_client_lines_and_fields_never_show_a_password(captured):
    with listener() as (base, _got):
        url = base.replace("http://", "http://robot:hunter2-secret@") + "/in?token=t0ps3cret"
        httpx.get(url, timeout=5)  # httpx logs "HTTP Request: GET <url> ..." at INFO
    get_logger("gateway.test").warning("delivery.failed", extra={"fields": {"target": url, "why": f"down: {url}"}})
    out = captured.getvalue()
    assert "HTTP Request" in out and "delivery.failed" in out
    assert "hunter2-secret" not in out and "t0ps3cret" not in out and "robot" not in out


def test_reasons_keep_the_position_and_withhold_the_data():
    text = "ISA06 'ACME RETAIL CO' is longer than 15 characters; segment of 900 characters skipped ('REF*ZZ*EEEE'...)"
    out = withhold_data(text)
    assert "ACME" not in out and "REF*ZZ" not in out and out.count(WITHHELD) == 2
    assert out.startswith("ISA06 ") and "longer than 15 characters" in out
    kept = "IEA02 '000000905' does not match ISA13 '000000904'; ISA11 'X' must be 'U'"
    assert withhold_data(kept) == kept  # control numbers and codes say what to fix, and hold no business data
    assert withhold_data(text, quote_data=True) == text


@pytest.fixture
def gw(tmp_path):
    with idle_gateway(tmp_path) as gateway:
        yield gateway


def _item(inbox, name: str, data: bytes, partner: str | None = "harbor-3pl") -> FolderItem:
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_bytes(data)
    st = path.stat()
    return FolderItem(f"{partner or 'shared'}/inbox", partner, path, st.st_size, st.st_mtime_ns, inbox)


def test_random_bytes_fail_as_not_x12_not_as_an_unknown_sender(gw, tmp_path):
    data = random.Random(2).randbytes(2 * 1024 * 1024)  # these random bytes hold what reads as an ISA header
    # a channel no single partner owns reads tolerantly: that is where the noise looked like an interchange
    msg = gw.inbound.receive(_item(tmp_path / "in", "noise.bin", data, partner=None))
    assert msg.status == MessageStatus.failed, msg.reason
    assert "not usable X12" in msg.reason and "unknown sender" not in msg.reason
    assert "\\udc" not in msg.reason  # no bytes of the payload quoted


def test_255_byte_name_colliding_in_processed_is_committed_under_a_shortened_name(gw, tmp_path, repo_root):
    inbox = tmp_path / "in"
    name = "o" * (NAME_MAX - 4) + ".edi"
    assert len(name.encode()) == NAME_MAX
    (inbox / "processed").mkdir(parents=True)
    (inbox / "processed" / name).write_bytes(b"an earlier file of the same name")
    msg = gw.inbound.receive(_item(inbox, name, repo_root.joinpath(*SAMPLE).read_bytes()))
    assert msg.status == MessageStatus.acked, msg.reason
    moved = [p.name for p in (inbox / "processed").iterdir() if p.name != name]
    assert len(moved) == 1 and moved[0].endswith(".1.edi") and len(moved[0].encode()) <= NAME_MAX
    assert not (inbox / name).exists()
    assert os.listdir(inbox / "processed")
