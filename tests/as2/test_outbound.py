"""The AS2 outbound transport (gateway/as2/outbound.py) through the outbound flow, against a second gateway node
(its own store, keys and uvicorn server) as the partner: the shared outbound contract, retries with the same
bytes and Message-ID judged by the options recorded at build time, negative MDNs, async MDNs and overdue ones."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import Request
from fastapi.responses import PlainTextResponse

from gateway.as2.outbound import As2Outbound, As2Receipts, original_message_id
from gateway.as2.settings import As2OwnSettings, organization
from gateway.flows.outbound import OutboundFlow
from gateway.flows.retry import DeliveryRetries, RetryPolicy
from gateway.store.models import As2Transmission, DeliveryStatus, Direction, MessageStatus
from gateway.transports.base import ReceiptOutcome
from tests.as2.support import keypair, make_node, own_settings, partner_settings, serve
from tests.support.sshd import free_port
from tests.transports.contract import Harness, OutboundContract

X12 = b"ISA*00*          *00*          *ZZ*GATEWAY        *ZZ*PARTNER        *240101*1200*U*00401*000000001*0*P*>~\r\n"


def wait(pred, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class Pair:
    """Our node (store, archive, outbound flow with one AS2 channel) and the partner's node on a real server."""

    def __init__(self, tmp: Path, database_url: str | None = None, **partner_kw) -> None:
        self.ours = make_node(tmp / "gw", own_settings("GATEWAY"), [], database_url=database_url)
        # the partner lets our async MDN URL through its allow-list (a loopback port chosen per test)
        self.theirs = make_node(
            tmp / "partner", own_settings("PARTNER"), [partner_settings("GATEWAY", async_mdn_urls=("http://127.0.0.1:*",))]
        )
        self.partner = partner_settings("PARTNER", content_type="application/octet-stream", **partner_kw)
        self.own: As2OwnSettings = self.ours.receiver.own
        self.receipts = As2Receipts(store=self.ours.store, archive=self.ours.archive, clock=lambda: datetime.now(UTC))
        self.flow = OutboundFlow(store=self.ours.store, archive=self.ours.archive, channels=lambda _p: [self.adapter()])

    def adapter(self) -> As2Outbound:
        return As2Outbound(
            channel="PARTNER/as2",
            partner=self.partner,
            own=self.own,
            org=organization(self.own),
            store=self.ours.store,
            archive=self.ours.archive,
            clock=lambda: datetime.now(UTC),
        )

    def queue(self, data: bytes = X12, name: str = "997-1.x12"):
        blob = self.ours.archive.put_bytes(data)
        msg, _ = self.ours.store.create_message(
            direction=Direction.outbound,
            status=MessageStatus.queued,
            partner_id="PARTNER",
            file_name=name,
            size=blob.size,
            sha256=blob.sha256,
            archive_key=blob.key,
            events=[("message.created", MessageStatus.queued, None)],
        )
        return msg

    def transmissions(self, message_id: int) -> list[As2Transmission]:
        from sqlmodel import select

        with self.ours.store.session() as s:
            q = select(As2Transmission).where(As2Transmission.message_id == message_id).order_by(As2Transmission.id)
            return list(s.exec(q).all())


PARTNER = SimpleNamespace(id="PARTNER")


# -- the shared outbound contract ---------------------------------------------------------------------------


class As2Harness(Harness):
    def __init__(self, pair: Pair, url: str, closed_url: str) -> None:
        self.pair, self.url, self.closed_url = pair, url, closed_url

    def outbound(self, *, unreachable=False, bad_credentials=False):
        p = self.pair
        if unreachable:
            p.partner = replace(p.partner, url=self.closed_url, timeout=2)
        elif bad_credentials:
            p.partner = replace(p.partner, url=self.url, basic_auth_user="hub", basic_auth_password="wrong")
        else:
            p.partner = replace(p.partner, url=self.url, basic_auth_user="hub", basic_auth_password="right")
        return p.adapter()

    def outbox(self):
        return {d.name: d.data for d in self.pair.theirs.delivered}

    def inbound(self, **_):
        pytest.skip("receiving AS2 is covered by tests/as2/test_receive.py")

    def drop(self, *a, **k):
        pytest.skip("receiving AS2 is covered by tests/as2/test_receive.py")

    def inbox(self):
        return set()

    def processed(self):
        return {}

    def failed(self):
        return set()


class TestAs2OutboundContract(OutboundContract):
    @pytest.fixture
    def harness(self, tmp_path):
        pair = Pair(tmp_path)
        with serve(pair.theirs) as url:

            @pair.theirs.app.middleware("http")
            async def basic_auth(request: Request, call_next):  # the partner's server checks its credentials
                import base64

                expected = "Basic " + base64.b64encode(b"hub:right").decode()
                if request.headers.get("authorization") != expected:
                    return PlainTextResponse("unauthorized\n", status_code=401)
                return await call_next(request)

            yield As2Harness(pair, url, f"http://127.0.0.1:{free_port()}/as2")


# -- through the outbound flow --------------------------------------------------------------------------------


def test_sync_mdn_delivered_with_matching_mic_and_recorded_options(tmp_path):
    pair = Pair(tmp_path)
    with serve(pair.theirs) as url:
        pair.partner = replace(pair.partner, url=url)
        msg = pair.flow.deliver(pair.queue(), PARTNER)
    assert msg.status == MessageStatus.delivered and msg.delivery_status == DeliveryStatus.delivered, msg.reason
    [tx] = pair.transmissions(msg.id)
    assert msg.transport_id == tx.as2_message_id and tx.state == "delivered" and tx.attempts == 1
    assert tx.options["mdn"] == "sync" and tx.options["mic_alg"] == "sha256" and tx.options["mic"]
    assert tx.options["mdn_verify_fingerprints"][0].count(":") == 31
    [link] = pair.ours.store.acks_of(msg.id)
    assert link.kind == "MDN" and link.result == "processed"
    mdn = next(e for e in pair.ours.store.events(msg.id) if e.name == "mdn.received").detail
    assert mdn["mic"] == tx.options["mic"] and mdn["mdn_signed"]
    assert [d.data for d in pair.theirs.delivered] == [X12]
    built = pair.ours.archive.read_bytes(tx.request_archive_key)
    assert f"Message-ID: <{tx.as2_message_id}>".encode() in built and b"application/pkcs7-mime" in built


def test_retry_resends_same_bytes_same_message_id_judged_by_recorded_options(tmp_path, database_url):
    pair = Pair(tmp_path, database_url)
    real = pair.theirs.receiver
    pair.theirs.receiver = None  # the partner's server answers 503 until it is configured
    retries = DeliveryRetries(
        store=pair.ours.store,
        outbound=pair.flow,
        policy=lambda _p: RetryPolicy(attempts=3, backoff_seconds=0),
        partner=lambda _pid: PARTNER,
        clock=lambda: datetime.now(UTC),
    )
    with serve(pair.theirs) as url:
        pair.partner = replace(pair.partner, url=url)
        first = retries.deliver(pair.queue(), PARTNER)
        assert first.status == MessageStatus.retrying and first.delivery_status == DeliveryStatus.pending
        assert "503" in first.reason
        [tx] = pair.transmissions(first.id)
        request = pair.ours.archive.read_bytes(tx.request_archive_key)
        # the partner file changes before the retry: another MDN mode, algorithm, and a certificate that would not
        # verify the partner's MDN. The retry must still send what was built and expect what that build asked for.
        pair.partner = replace(
            pair.partner,
            mdn="none",
            signature_algorithm="sha1",
            signing_certificates=(keypair("SOMEONE-ELSE").certificate,),
            encrypt=False,
        )
        pair.theirs.app.state.as2_receiver = real
        assert retries.run_due() == 1
    done = pair.ours.store.get(first.id)
    assert done.status == MessageStatus.delivered and done.delivery_status == DeliveryStatus.delivered, done.reason
    [tx2] = pair.transmissions(first.id)
    assert tx2.id == tx.id and tx2.attempts == 2 and done.transport_id == tx.as2_message_id
    assert pair.ours.archive.read_bytes(tx2.request_archive_key) == request
    [received] = [m for m in real.store.list_messages(direction=Direction.inbound).items if m.document_format != "mdn"]
    assert received.transport_id == tx.as2_message_id  # one message at the partner, with the first Message-ID
    mdn = next(e for e in pair.ours.store.events(first.id) if e.name == "mdn.received").detail
    assert mdn["mic_alg"] == "sha256" and mdn["mic"] == tx.options["mic"] and mdn["mdn_signed"]


def test_negative_mdn_fails_with_the_partners_reason_and_is_not_retried(tmp_path):
    pair = Pair(tmp_path, encrypt=False)  # the partner requires encryption: insufficient-message-security
    with serve(pair.theirs) as url:
        pair.partner = replace(pair.partner, url=url)
        msg = pair.flow.deliver(pair.queue(), PARTNER)
    assert msg.status == MessageStatus.failed and msg.delivery_status == DeliveryStatus.failed
    assert "insufficient-message-security" in msg.reason and msg.error["kind"] == "PartnerRejected"
    [tx] = pair.transmissions(msg.id)
    assert tx.state == "rejected"
    [link] = pair.ours.store.acks_of(msg.id)
    assert link.kind == "MDN" and "insufficient-message-security" in link.result


def test_resend_after_a_final_answer_builds_a_new_message(tmp_path):
    pair = Pair(tmp_path)
    with serve(pair.theirs) as url:
        pair.partner = replace(pair.partner, url=url)
        msg = pair.flow.deliver(pair.queue(), PARTNER)
        again = pair.flow.deliver(pair.ours.store.update(msg.id, status=MessageStatus.queued), PARTNER)
    assert again.status == MessageStatus.delivered, again.reason
    first, second = pair.transmissions(msg.id)
    assert first.as2_message_id != second.as2_message_id and again.transport_id == second.as2_message_id
    assert len(pair.theirs.delivered) == 2  # a new transmission, not a duplicate the partner would drop


def test_async_mdn_on_our_endpoint_delivers_the_message(tmp_path, database_url):
    pair = Pair(tmp_path, database_url, mdn="async")

    def mdn_handler(raw, headers):
        return pair.receipts.handle_async(raw, original_message_id(raw) or "")

    pair.ours.receiver.mdn_handler = mdn_handler
    with serve(pair.ours) as our_url, serve(pair.theirs) as url:
        pair.own = replace(pair.own, mdn_url=our_url)
        pair.partner = replace(pair.partner, url=url)
        msg = pair.flow.deliver(pair.queue(), PARTNER)
        assert msg.status in (MessageStatus.sent, MessageStatus.delivered), msg.reason
        done = wait(lambda: (m := pair.ours.store.get(msg.id)).status == MessageStatus.delivered and m)
    assert done.delivery_status == DeliveryStatus.delivered
    [tx] = pair.transmissions(msg.id)
    assert tx.state == "delivered" and tx.options["mdn_url"] == our_url
    assert any(link.kind == "MDN" and link.result == "processed" for link in pair.ours.store.acks_of(msg.id))


def test_async_mdn_not_received_in_time_is_overdue(tmp_path):
    pair = Pair(tmp_path, mdn="async", mdn_timeout=60)
    closed = f"http://127.0.0.1:{free_port()}/as2"  # our MDN URL is not reachable: no MDN will come
    with serve(pair.theirs, mdn_delays=(0.0,)) as url:
        pair.own = replace(pair.own, mdn_url=closed)
        pair.partner = replace(pair.partner, url=url)
        msg = pair.flow.deliver(pair.queue(), PARTNER)
    assert msg.status == MessageStatus.sent and msg.delivery_status == DeliveryStatus.sent, msg.reason
    assert pair.receipts.check_overdue() == []  # not due yet
    later = As2Receipts(
        store=pair.ours.store, archive=pair.ours.archive, clock=lambda: datetime.now(UTC) + timedelta(minutes=2)
    )
    assert later.check_overdue() == [msg.id]
    late = pair.ours.store.get(msg.id)
    assert late.status == MessageStatus.mdn_overdue and "no asynchronous MDN" in late.reason
    assert late.delivery_status == DeliveryStatus.sent


def test_a_peer_that_is_down_is_retried_then_dead(tmp_path):
    pair = Pair(tmp_path)
    pair.partner = replace(pair.partner, url=f"http://127.0.0.1:{free_port()}/as2", timeout=2)
    retries = DeliveryRetries(
        store=pair.ours.store,
        outbound=pair.flow,
        policy=lambda _p: RetryPolicy(attempts=2, backoff_seconds=0),
        partner=lambda _pid: PARTNER,
        clock=lambda: datetime.now(UTC),
    )
    msg = retries.deliver(pair.queue(), PARTNER)
    assert msg.status == MessageStatus.retrying
    retries.run_due()
    dead = pair.ours.store.get(msg.id)
    assert dead.status == MessageStatus.dead and dead.delivery_status == DeliveryStatus.dead
    assert "gave up after 2 attempts" in dead.reason and "failed" in dead.reason
    [tx] = pair.transmissions(msg.id)
    assert tx.attempts == 2 and tx.state == "retrying"  # one Message-ID for both attempts


def test_bare_send_without_the_flow_is_delivered(tmp_path):
    pair = Pair(tmp_path)
    with serve(pair.theirs) as url:
        pair.partner = replace(pair.partner, url=url)
        receipt = pair.adapter().send("x.edi", io.BytesIO(X12))
    assert receipt.outcome == ReceiptOutcome.delivered and receipt.detail["mdn_status"] == "processed"


def test_async_mdn_that_does_not_verify_is_kept_but_changes_nothing(tmp_path):
    """POST /as2 is unauthenticated: a negative MDN signed with another key (here a server holding a key that is
    not the partner's) must not fail our message. It is archived and shown as mdn.unusable; the message waits."""
    pair = Pair(tmp_path, mdn="async")
    mallory = keypair("MALLORY")
    impostor = As2OwnSettings(as2_id="PARTNER", private_key=mallory.private_key, certificate=mallory.certificate)
    pair.theirs = make_node(
        tmp_path / "impostor", impostor, [partner_settings("GATEWAY", async_mdn_urls=("http://127.0.0.1:*",))]
    )

    def mdn_handler(raw, headers):
        return pair.receipts.handle_async(raw, original_message_id(raw) or "")

    pair.ours.receiver.mdn_handler = mdn_handler
    with serve(pair.ours) as our_url, serve(pair.theirs) as url:
        pair.own = replace(pair.own, mdn_url=our_url)
        pair.partner = replace(pair.partner, url=url)
        msg = pair.flow.deliver(pair.queue(), PARTNER)
        event = wait(lambda: next((e for e in pair.ours.store.events(msg.id) if e.name == "mdn.unusable"), None))
    assert "could not be accepted" in event.detail["reason"]
    still = pair.ours.store.get(msg.id)
    assert still.status == MessageStatus.sent and still.delivery_status == DeliveryStatus.sent
    [tx] = pair.transmissions(msg.id)
    assert tx.state == "awaiting_mdn"
    [link] = pair.ours.store.acks_of(msg.id)
    assert link.kind == "MDN" and "Failed to verify message signature" in link.result  # kept, for support


def test_an_async_mdn_that_overtook_its_send_is_applied_by_the_sweep(tmp_path):
    """The MDN can be judged while the flow is still recording the send (the message is still ``queued``): the
    handler leaves the message alone, and the sweep applies the verdict once the send is recorded."""
    pair = Pair(tmp_path, mdn="async")
    closed = f"http://127.0.0.1:{free_port()}/as2"
    with serve(pair.theirs, mdn_delays=(0.0,)) as url:
        pair.own = replace(pair.own, mdn_url=closed)
        pair.partner = replace(pair.partner, url=url)
        msg = pair.flow.deliver(pair.queue(), PARTNER)
    assert msg.status == MessageStatus.sent
    [tx] = pair.transmissions(msg.id)
    # what the MDN handler does when it finds the message still queued: the verdict is on the transmission only
    from gateway.as2.transmissions import Transmissions
    from gateway.store.models import As2TransmissionState

    Transmissions(pair.ours.store).set_state(tx.id, As2TransmissionState.delivered)
    assert pair.receipts.sweep() == {"overdue": [], "reconciled": [msg.id]}
    done = pair.ours.store.get(msg.id)
    assert done.status == MessageStatus.delivered and done.delivery_status == DeliveryStatus.delivered
    assert pair.receipts.reconcile() == []  # applied once
