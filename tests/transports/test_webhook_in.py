"""Webhooks in: the real route on a real uvicorn server, the real inbound flow, store and archive; httpx client."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from gateway.api.app import create_app
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.models import Direction, MessageStatus
from gateway.transports.webhook import (
    DELIVERY,
    FILE_NAME,
    WebhookReceiver,
    WebhookSettings,
    signed_headers,
)
from tests.support.gateway_home import make_home
from tests.support.http_server import serving

SECRET = "s3cret-for-tests"


@pytest.fixture
def gw(tmp_path):
    home = make_home(tmp_path)
    gateway = Gateway(load_settings(home / "config" / "gateway.yaml"))
    gateway.webhooks["acme-retail"] = WebhookReceiver(
        WebhookSettings(secret=SECRET, max_bytes=64 * 1024, tolerance_seconds=300),
        channel="acme-retail/webhook",
        partner_id="acme-retail",
    )
    yield gateway
    gateway.stop()


@pytest.fixture
def url(gw):
    with serving(create_app(gw), lifespan="off") as base:
        yield f"{base}/api/webhooks/acme-retail"


@pytest.fixture
def doc(corpus):
    return (corpus / "940" / "x12types-940-generalmills-new.edi").read_bytes()


def post(url, body, *, delivery=None, secret=SECRET, ts=None, **extra):
    headers = signed_headers(secret, body, delivery or str(uuid.uuid4()), time.time() if ts is None else ts)
    headers.update(extra)
    return httpx.post(url, content=body, headers=headers, timeout=30)


def inbound_messages(gw):
    return gw.store.list_messages(limit=100, direction=Direction.inbound).items


def test_signed_document_is_archived_before_2xx_and_processed(gw, url, doc):
    r = post(url, doc, **{FILE_NAME: "order.edi"})
    assert r.status_code == 200, r.text
    answer = r.json()
    msg = gw.store.get(answer["message_id"])
    assert gw.archive.read_bytes(msg.archive_key) == doc  # archived byte-exact
    assert msg.file_name == "order.edi" and msg.channel == "acme-retail/webhook"
    assert msg.status == MessageStatus.acked, msg.reason
    names = [e.name for e in gw.store.events(msg.id)]
    assert names[:2] == ["message.received", "message.archived"]
    assert answer["duplicate"] is False


def test_same_delivery_id_is_one_message(gw, url, doc):
    delivery = str(uuid.uuid4())
    first = post(url, doc, delivery=delivery)
    again = post(url, doc, delivery=delivery)
    assert first.status_code == again.status_code == 200
    assert first.json()["message_id"] == again.json()["message_id"]
    assert again.json()["duplicate"] is True
    assert len(inbound_messages(gw)) == 1


@pytest.mark.parametrize(
    ("how", "expect"),
    [
        ("wrong secret", "signature does not match"),
        ("body changed", "signature does not match"),
        ("stale timestamp", "away from our clock"),
        ("future timestamp", "away from our clock"),
        ("no signature", "lacks"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_recorded(gw, url, doc, how, expect):
    if how == "wrong secret":
        r = post(url, doc, secret="guess")
    elif how == "body changed":
        headers = signed_headers(SECRET, doc, "d-1", time.time())
        r = httpx.post(url, content=doc + b"x", headers=headers, timeout=30)
    elif how == "stale timestamp":
        r = post(url, doc, ts=time.time() - 400)
    elif how == "future timestamp":
        r = post(url, doc, ts=time.time() + 400)
    else:
        r = httpx.post(url, content=doc, timeout=30)
    assert r.status_code == 401
    assert expect in r.json()["error"]["message"]
    assert SECRET not in r.text
    assert inbound_messages(gw) == []


def test_captured_request_replayed_under_a_new_delivery_id_is_refused(gw, url, doc):
    """The signature covers the delivery id: changing it to dodge the idempotency check breaks the signature."""
    headers = signed_headers(SECRET, doc, "d-original", time.time())
    first = httpx.post(url, content=doc, headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    replay = httpx.post(url, content=doc, headers={**headers, DELIVERY: "d-forged"}, timeout=30)
    assert replay.status_code == 401
    assert "signature does not match" in replay.json()["error"]["message"]
    assert [m.transport_id for m in inbound_messages(gw)] == ["webhook:d-original"]


def test_body_over_the_limit_is_refused(gw, url):
    r = post(url, b"ISA" + b"x" * (64 * 1024))
    assert r.status_code == 413
    # a sender that lies about (or omits) the length is cut off while streaming, too
    body = b"x" * (200 * 1024)

    def chunks():
        yield from (body[i : i + 8192] for i in range(0, len(body), 8192))

    headers = signed_headers(SECRET, body, "d-stream", time.time())
    r = httpx.post(url, content=chunks(), headers=headers, timeout=30)
    assert r.status_code == 413
    assert inbound_messages(gw) == []


def test_unknown_partner_is_404(gw, url, doc):
    r = post(url.replace("acme-retail", "nobody"), doc)
    assert r.status_code == 404
