"""The periodic AS2 jobs: retries of sends, async MDNs left undelivered, and the store on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.as2.mdn_delivery import AsyncMdnDelivery
from gateway.as2.receive import As2Response
from gateway.as2.service import build_service
from gateway.store.models import Direction, MessageStatus
from tests.as2 import peer
from tests.as2.support import make_node, make_pair, own_settings, partner_settings, post, serve

X12 = b"ISA*00*          *00*          *ZZ*GATEWAY        *ZZ*PARTNER        *240101*1200*U*00401*000000001*0*P*>~"


def test_retry_job_delivers_with_the_same_message_id_then_gives_up_after_max_attempts(tmp_path):
    ours, theirs, sender = make_pair(tmp_path)
    real = theirs.receiver
    theirs.receiver = None  # 503 until configured
    with serve(theirs) as url:
        ours.receiver.partners = {"PARTNER": partner_settings("PARTNER", url=url)}.get
        a = sender.send(X12, ours.receiver.partners("PARTNER"), filename="a.edi")
        b = sender.send(X12, ours.receiver.partners("PARTNER"), filename="b.edi")
        assert sender.retry_due(max_attempts=1) == []  # both at their limit: dead
        assert {ours.store.get(i).status for i in (a.id, b.id)} == {MessageStatus.dead}
        c = sender.send(X12, ours.receiver.partners("PARTNER"), filename="c.edi")
        theirs.app.state.as2_receiver = real
        assert sender.retry_due() == [c.id]
    got = [m.transport_id for m in real.store.list_messages(direction=Direction.inbound).items]
    assert got == [c.transport_id]


def test_undelivered_async_mdn_is_resumed(tmp_path):
    node = make_node(tmp_path / "gw", own_settings(), [partner_settings()])
    received = []
    partner_node = make_node(tmp_path / "p", own_settings("PARTNER"), [])
    partner_node.receiver.mdn_handler = lambda raw, h: received.append(raw) or As2Response(200, {}, b"")
    with serve(partner_node) as partner_url:
        node.receiver.partners = {"PARTNER": partner_settings(url=partner_url)}.get
        with serve(node) as url:
            node.app.state.as2_mdn_delivery = None  # the gateway stops before the background job runs
            msg = peer.build(X12, org=peer.partner_org(mdn_url=partner_url), mdn_mode="ASYNC")
            assert post(url, msg.headers, msg.content).status_code == 200
        delivery = AsyncMdnDelivery(store=node.store, archive=node.archive, delays=(0,))
        assert [u for _i, u in delivery.pending()] == [partner_url]
        assert len(delivery.run_due()) == 1
    assert received and delivery.pending() == []


def test_duplicate_replay_on_both_store_backends(tmp_path, database_url):
    node = make_node(tmp_path, own_settings(), [partner_settings()], database_url=database_url)
    service = build_service(
        store=node.store,
        archive=node.archive,
        own=node.receiver.own,
        partners=lambda: [partner_settings(partner_id="acme")],
        clock=lambda: datetime.now(UTC),
        deliver=None,
    )
    node.receiver = service.receiver
    msg = peer.build(X12)
    with serve(node) as url:
        first = post(url, msg.headers, msg.content)
        second = post(url, msg.headers, msg.content)
    assert first.content == second.content
    assert peer.parse_mdn(msg, dict(second.headers), second.content) == ("processed", None)
    [stored] = node.store.list_messages(direction=Direction.inbound).items
    assert stored.status == MessageStatus.processed and stored.partner_id == "acme"
    assert service.sender.partners("acme") is not None and service.sender.partners("PARTNER") is None
    assert [j for j, _f, _s in service.jobs()] == ["as2.retry", "as2.mdn_overdue", "as2.async_mdn", "as2.outbound_mdns"]
