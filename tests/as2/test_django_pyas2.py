"""Interop with django-pyas2 (an independent AS2 server) in both directions, sync and async MDN.

The peer is set up on first use from the package index into .cache/as2peer/ (see tests/as2/django_peer.py).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.as2.send import As2Sender
from gateway.as2.settings import As2OwnSettings, As2PartnerSettings
from gateway.store.models import Direction, MessageStatus
from tests.as2.django_peer import KEYPASS, PEER_HOME, DjangoPeer
from tests.as2.support import make_node, serve

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"


def wait(pred, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def peer():
    p = DjangoPeer(PEER_HOME)
    p.ensure()
    p.start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def gateway(tmp_path, peer):
    own = As2OwnSettings(
        as2_id="GATEWAY",
        private_key=peer.cert("gateway.key"),
        certificate=peer.cert("gateway.crt"),
        key_password=KEYPASS,
    )
    partner = As2PartnerSettings(
        as2_id="PEERSERVER",
        url=peer.url,
        signing_certificates=(peer.cert("peer.crt"),),
        encryption_certificate=peer.cert("peer.crt"),
    )
    partners = {"PEERSERVER": partner}
    node = make_node(tmp_path, own, [])
    node.receiver.partners = partners.get
    sender = As2Sender(
        store=node.store, archive=node.archive, own=own, partners=partners.get, clock=node.receiver.clock
    )
    node.receiver.mdn_handler = sender.handle_mdn
    with serve(node) as url:
        yield node, sender, partners, url


def peer_message(peer, message_id):
    return next((m for m in peer.report() if m["message_id"] == message_id), None)


@pytest.mark.parametrize(
    "switches",
    [
        {},
        {"compress": "before_signing", "encryption_algorithm": "tripledes_192_cbc", "signature_algorithm": "sha1"},
        {"compress": "after_signing"},
        {"content_type": "application/octet-stream"},
        {"algorithm_naming": "dashed"},
    ],
    ids=["default", "compressed-3des-sha1", "compressed-after-signing", "octet-stream", "dashed-names"],
)
def test_gateway_to_django_pyas2_sync_signed_mdn(peer, gateway, switches):
    _node, sender, partners, url = gateway
    peer.configure(url, "SYNC")
    partners["PEERSERVER"] = replace(partners["PEERSERVER"], **switches)
    msg = sender.send(SAMPLE.read_bytes(), partners["PEERSERVER"], filename=SAMPLE.name)
    assert msg.status == MessageStatus.delivered, msg.reason
    got = peer_message(peer, msg.transport_id)
    assert got["direction"] == "IN" and got["status"] == "S"
    assert got["payload"].encode("latin-1").replace(b"\r\n", b"\n") == SAMPLE.read_bytes().replace(b"\r\n", b"\n")


def test_gateway_to_django_pyas2_async_mdn(peer, gateway):
    node, sender, partners, url = gateway
    peer.configure(url, "SYNC")
    sender.own = replace(sender.own, mdn_url=url)
    from gateway.as2.settings import organization

    sender.org = organization(sender.own)
    partners["PEERSERVER"] = replace(partners["PEERSERVER"], mdn="async")
    msg = sender.send(SAMPLE.read_bytes(), partners["PEERSERVER"], filename=SAMPLE.name)
    assert msg.status == MessageStatus.sent, msg.reason
    # django-pyas2 sends pending async MDNs from its periodic command (cron in production)
    peer.manage("manageas2server", "--async-mdns")
    done = wait(lambda: node.store.get(msg.id).status != MessageStatus.sent and node.store.get(msg.id))
    assert done.status == MessageStatus.delivered, done.reason


@pytest.mark.parametrize(
    ("mode", "compress", "content_type"),
    [
        ("SYNC", False, "application/EDI-X12"),
        ("ASYNC", False, "application/EDI-X12"),
        ("SYNC", False, "application/octet-stream"),
        ("SYNC", True, "application/octet-stream"),
    ],
)
def test_django_pyas2_to_gateway(peer, gateway, mode, compress, content_type):
    node, _sender, _partners, url = gateway
    peer.configure(url, mode, compress=compress, content_type=content_type)
    peer.send(SAMPLE)
    [received] = node.store.list_messages(direction=Direction.inbound).items
    assert received.status == MessageStatus.processed, received.reason
    assert node.delivered[0].data.replace(b"\r\n", b"\n") == SAMPLE.read_bytes().replace(b"\r\n", b"\n")
    if content_type == "application/octet-stream":
        assert node.delivered[0].data == SAMPLE.read_bytes()  # bytes exact
    if mode == "ASYNC":  # our background job has POSTed the MDN to the peer's receive URL
        wait(lambda: node.store.list_messages(direction=Direction.outbound).items[0].status == MessageStatus.delivered)
    got = wait(lambda: (m := peer_message(peer, received.transport_id)) and m["status"] != "P" and m)
    assert got["direction"] == "OUT" and got["status"] == "S", got["detail"]
    [link] = node.store.acks_of(received.id)
    assert link.result == "processed"
