"""Bad input on POST /as2: each gets the right negative MDN or HTTP error, is recorded with a reason, and the
server keeps answering."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

import gateway.as2  # noqa: F401
from gateway.store.models import Direction, MessageStatus
from tests.as2 import peer
from tests.as2.support import keypair, make_node, own_settings, partner_settings, post, serve

X12 = b"ISA*00*          *00*          *ZZ*PARTNER        *ZZ*GATEWAY        *240101*1200*U*00401*000000001*0*P*>~"
ENVELOPED = "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"


def as2_headers(**extra):
    h = {
        "AS2-From": "PARTNER",
        "AS2-To": "GATEWAY",
        "Message-ID": f"<{os.urandom(6).hex()}@p>",
        "Disposition-Notification-To": "x@p",
        "Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; "
        "signed-receipt-micalg=optional, sha256",
    }
    h.update(extra)
    return h


def only_inbound(node):
    [m] = node.store.list_messages(direction=Direction.inbound).items
    return m


@pytest.fixture
def node(tmp_path):
    return make_node(tmp_path, own_settings(max_body_bytes=200_000, max_payload_bytes=100_000), [partner_settings()])


@pytest.mark.parametrize(
    ("content_type", "body", "modifier"),
    [
        (ENVELOPED, os.urandom(3000), "decryption-failed"),  # garbage that claims to be encrypted
        ("text/html", b"<html>not AS2</html>", "insufficient-message-security"),  # wrong type, policy says encrypt
        ("multipart/signed; boundary=x", b"--x\r\ngarbage", "insufficient-message-security"),
    ],
)
def test_garbage_and_wrong_content_types_get_a_negative_signed_mdn(node, content_type, body, modifier):
    with serve(node) as url:
        r = post(url, as2_headers(**{"Content-Type": content_type}), body)
        assert httpx.get(url.replace("/as2", "/docs"), timeout=5).status_code in (200, 404)  # still serving
    assert r.status_code == 200 and r.headers["content-type"].startswith("multipart/signed")
    assert modifier.encode() in r.content
    m = only_inbound(node)
    assert m.status == MessageStatus.failed and modifier in m.reason and m.archive_key


def test_missing_as2_headers_is_http_400_recorded(node):
    with serve(node) as url:
        r = post(url, {"Content-Type": "application/edi-x12", "AS2-To": "GATEWAY"}, X12)
    assert r.status_code == 400 and b"AS2-From" in r.content and b"Message-ID" in r.content
    m = only_inbound(node)
    assert m.status == MessageStatus.failed and "missing AS2 header" in m.reason
    assert node.archive.read_bytes(m.archive_key).endswith(X12)


@pytest.mark.parametrize(("frm", "to"), [("STRANGER", "GATEWAY"), ("PARTNER", "SOMEONE-ELSE")])
def test_unknown_as2_ids_are_quarantined_with_negative_mdn(node, frm, to):
    with serve(node) as url:
        r = post(url, as2_headers(**{"AS2-From": frm, "AS2-To": to, "Content-Type": "application/edi-x12"}), X12)
    assert r.status_code == 200 and b"unknown-trading-partner" in r.content
    m = only_inbound(node)
    assert m.status == MessageStatus.quarantined and m.reason


def test_tampered_body_gets_authentication_failed(node):
    msg = peer.build(X12, encrypt=False)
    body = msg.content.replace(b"240101", b"240102")
    h = {k: v for k, v in msg.headers.items()}
    node.receiver.partners = {"PARTNER": replace(partner_settings(), require_encrypted=False)}.get
    with serve(node) as url:
        r = post(url, h, body)
    assert peer.parse_mdn(msg, dict(r.headers), r.content) == ("processed/Error", "authentication-failed")
    assert only_inbound(node).status == MessageStatus.failed and node.delivered == []


def test_expired_partner_certificate_fails_authentication(tmp_path):
    old = keypair("OLD", now=datetime(2020, 1, 1, tzinfo=UTC), days=30)
    partner = replace(partner_settings(), signing_certificates=(old.certificate,))
    node = make_node(tmp_path, own_settings(), [partner])
    from pyas2lib import as2 as pyas2

    org = pyas2.Organization(
        as2_name="PARTNER", sign_key=old.private_key + old.certificate, decrypt_key=old.private_key + old.certificate
    )
    msg = peer.build(X12, org=org)
    with serve(node) as url:
        r = post(url, msg.headers, msg.content)
    assert b"authentication-failed" in r.content
    m = only_inbound(node)
    assert m.status == MessageStatus.failed and "expired" in m.reason


def test_zip_bomb_stops_at_the_payload_limit(node):
    bomb = b"0" * 20_000_000  # compresses to ~20 KB, limit is 100 KB
    msg = peer.build(bomb, compress=True)
    assert len(msg.content) < 200_000
    with serve(node) as url:
        r = post(url, msg.headers, msg.content)
    assert peer.parse_mdn(msg, dict(r.headers), r.content) == ("processed/Error", "decompression-failed")
    m = only_inbound(node)
    assert m.status == MessageStatus.failed and "size limit" in m.reason


def test_body_over_the_limit_is_413_recorded(node):
    with serve(node) as url:
        r = post(url, as2_headers(**{"Content-Type": ENVELOPED}), b"x" * 300_000)
        chunked = httpx.post(url, headers=as2_headers(), content=iter([b"y" * 150_000, b"y" * 150_000]), timeout=30)
    assert r.status_code == 413 and chunked.status_code == 413
    got = node.store.list_messages(direction=Direction.inbound).items
    assert len(got) == 2 and all(m.status == MessageStatus.failed and "over the limit" in m.reason for m in got)


def test_async_mdn_for_a_message_we_never_sent_is_recorded_not_a_500(tmp_path):
    from tests.as2.support import make_pair

    ours, _theirs, _sender = make_pair(tmp_path)
    report = (
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
        b"Original-Message-ID: <never-sent@x>\r\nDisposition: automatic-action/MDN-sent-automatically; processed\r\n"
        b"\r\n--b--\r\n"
    )
    head, _, body = report.partition(b"\r\n\r\n")
    h = {
        "Content-Type": head.decode().split(": ", 1)[1],
        "AS2-From": "PARTNER",
        "AS2-To": "GATEWAY",
        "Message-ID": "<mdn-1@p>",
    }
    with serve(ours) as url:
        r = post(url, h, body)
    assert r.status_code == 200 and b"did not send" in r.content
    [m] = ours.store.list_messages(direction=Direction.inbound).items
    assert m.status == MessageStatus.failed and m.document_format == "mdn" and "never-sent@x" in m.reason
