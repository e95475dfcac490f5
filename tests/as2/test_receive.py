"""Receiving over real HTTP (uvicorn on loopback): pyas2lib plays the partner."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.store.models import Direction, MessageStatus
from tests.as2 import peer
from tests.as2.support import keypair, make_node, own_settings, partner_settings, post, serve

X12 = b"ISA*00*          *00*          *ZZ*PARTNER        *ZZ*GATEWAY        *240101*1200*U*00401*000000001*0*P*>~\n"


@pytest.fixture
def node(tmp_path):
    return make_node(tmp_path, own_settings(), [partner_settings()])


def test_signed_encrypted_message_gets_signed_sync_mdn_and_is_archived_first(node):
    msg = peer.build(X12)
    with serve(node) as url:
        r = post(url, msg.headers, msg.content)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("multipart/signed")
    status, detail = peer.parse_mdn(msg, dict(r.headers), r.content)
    assert (status, detail) == ("processed", None)
    [stored] = [m for m in node.store.list_messages(direction=Direction.inbound).items]
    assert stored.status == MessageStatus.processed and stored.transport_id == msg.message_id
    names = [e.name for e in node.store.events(stored.id)]
    assert names.index("message.archived") < names.index("as2.payload_extracted") < names.index("message.processed")
    assert node.archive.read_bytes(stored.archive_key).endswith(msg.content)  # the raw request, as received
    extracted = next(e for e in node.store.events(stored.id) if e.name == "as2.payload_extracted").detail
    assert node.archive.read_bytes(extracted["archive_key"]) == X12.replace(b"\n", b"\r\n")  # text type: CRLF
    assert extracted["mic"] == msg.mic.decode()
    [link] = node.store.acks_of(stored.id)
    assert link.kind == "MDN" and link.result == "processed"
    assert [d.data for d in node.delivered] == [X12.replace(b"\n", b"\r\n")]


def test_duplicate_of_processed_message_gets_the_original_mdn_and_is_not_processed_again(node):
    msg = peer.build(X12)
    with serve(node) as url:
        first = post(url, msg.headers, msg.content)
        second = post(url, msg.headers, msg.content)
    assert first.content == second.content  # the original MDN, byte for byte
    assert peer.parse_mdn(msg, dict(second.headers), second.content)[0] == "processed"
    assert len(node.delivered) == 1
    [stored] = node.store.list_messages(direction=Direction.inbound).items
    assert "as2.duplicate_received" in [e.name for e in node.store.events(stored.id)]


def test_repeat_of_failed_message_is_processed_as_a_retry(tmp_path):
    """First attempt fails (partner's certificate not yet configured), the resend after the fix succeeds."""
    wrong = replace(partner_settings(), signing_certificates=(keypair("SOMEONE-ELSE").certificate,))
    partners = {"PARTNER": wrong}
    node = make_node(tmp_path, own_settings(), [])
    node.receiver.partners = partners.get
    msg = peer.build(X12)
    with serve(node) as url:
        first = post(url, msg.headers, msg.content)
        assert peer.parse_mdn(msg, dict(first.headers), first.content) == ("processed/Error", "authentication-failed")
        partners["PARTNER"] = partner_settings()
        second = post(url, msg.headers, msg.content)
    assert peer.parse_mdn(msg, dict(second.headers), second.content) == ("processed", None)
    [stored] = node.store.list_messages(direction=Direction.inbound).items
    assert stored.status == MessageStatus.processed
    names = [e.name for e in node.store.events(stored.id)]
    assert names.count("message.failed") == 1 and "as2.retry_received" in names
    assert len(node.delivered) == 1


def test_rollover_certificate_verifies_when_the_current_one_does_not(tmp_path):
    rolled = replace(
        partner_settings(),
        signing_certificates=(keypair("NEW-PARTNER-CERT").certificate, keypair("PARTNER").certificate),
    )
    node = make_node(tmp_path, own_settings(), [rolled])
    msg = peer.build(X12)
    with serve(node) as url:
        r = post(url, msg.headers, msg.content)
    assert peer.parse_mdn(msg, dict(r.headers), r.content) == ("processed", None)
    [stored] = node.store.list_messages(direction=Direction.inbound).items
    assert "as2.signature_rollover" in [e.name for e in node.store.events(stored.id)]


@pytest.mark.parametrize(
    ("sign", "encrypt", "modifier"),
    [
        (False, True, "insufficient-message-security"),
        (True, False, "insufficient-message-security"),
        (False, False, "insufficient-message-security"),
    ],
)
def test_policy_violations_get_a_signed_negative_mdn_not_a_500(node, sign, encrypt, modifier):
    msg = peer.build(X12, sign=sign, encrypt=encrypt)
    with serve(node) as url:
        r = post(url, msg.headers, msg.content)
    assert r.status_code == 200 and r.headers["content-type"].startswith("multipart/signed")
    assert peer.parse_mdn(msg, dict(r.headers), r.content) == ("processed/Error", modifier)
    [stored] = node.store.list_messages(direction=Direction.inbound).items
    assert stored.status == MessageStatus.failed and modifier in stored.reason
    assert node.delivered == []


def test_async_mdn_is_delivered_to_receipt_delivery_option(tmp_path):
    """The partner asks for an async MDN at its own AS2 endpoint (a second real server)."""
    ours = make_node(tmp_path / "gw", own_settings(), [partner_settings()])
    theirs = make_node(tmp_path / "partner", own_settings("PARTNER"), [partner_settings("GATEWAY")])
    got: list[tuple[bytes, dict]] = []

    def keep(raw, headers):
        got.append((raw, headers))
        from gateway.as2.receive import As2Response

        return As2Response(200, {}, b"")

    theirs.receiver.mdn_handler = keep
    with serve(theirs) as partner_url, serve(ours) as url:
        ours.receiver.partners = {"PARTNER": partner_settings(url=partner_url)}.get  # async MDNs go to its host
        msg = peer.build(X12, org=peer.partner_org(mdn_url=partner_url), mdn_mode="ASYNC")
        r = post(url, msg.headers, msg.content)
        assert r.status_code == 200 and r.content == b""
        import time

        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
    assert got, "no async MDN arrived"
    raw, _headers = got[0]
    head, _, body = raw.partition(b"\r\n\r\n")
    hdrs = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
    assert peer.parse_mdn(msg, hdrs, body) == ("processed", None)
    [mdn_msg] = ours.store.list_messages(direction=Direction.outbound).items
    assert mdn_msg.status == MessageStatus.delivered


def test_payload_never_reaches_the_logs_even_at_debug(node, caplog):
    import logging

    secret = b"ISA*SECRET-PAYLOAD-MARKER~"
    msg = peer.build(secret)
    with caplog.at_level(logging.DEBUG), serve(node) as url:
        r = post(url, msg.headers, msg.content)
    assert r.status_code == 200
    assert "SECRET-PAYLOAD-MARKER" not in caplog.text


def test_repeat_while_the_original_is_still_in_progress_is_503_not_processed_twice(node):
    from gateway.store.models import MessageStatus as S

    msg = peer.build(X12)
    with serve(node) as url:
        first = post(url, msg.headers, msg.content)
        [stored] = node.store.list_messages(direction=Direction.inbound).items
        node.store.update(stored.id, status=S.processing)  # as if a crash or a parallel request left it running
        again = post(url, msg.headers, msg.content)
    assert first.status_code == 200 and again.status_code == 503 and again.headers["retry-after"] == "30"
    assert len(node.delivered) == 1
