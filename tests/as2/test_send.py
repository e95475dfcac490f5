"""Sending over real HTTP to a second gateway instance (its own store, keys and uvicorn server)."""

from __future__ import annotations

import time
from dataclasses import replace

from gateway.as2.settings import As2OwnSettings
from gateway.store.models import MessageStatus
from tests.as2.support import make_pair, partner_settings, serve

X12 = b"ISA*00*          *00*          *ZZ*GATEWAY        *ZZ*PARTNER        *240101*1200*U*00401*000000001*0*P*>~"


def wait(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_signed_encrypted_sync_mdn_delivered_with_matching_mic(tmp_path):
    ours, theirs, sender = make_pair(tmp_path)
    with serve(theirs) as url:
        ours.receiver.partners = {"PARTNER": partner_settings("PARTNER", url=url)}.get
        msg = sender.send(X12, ours.receiver.partners("PARTNER"), filename="o.edi")
    assert msg.status == MessageStatus.delivered, msg.reason
    [link] = ours.store.acks_of(msg.id)
    assert link.kind == "MDN" and link.result == "processed"
    assert [d.data for d in theirs.delivered] == [X12]
    facts = next(e for e in ours.store.events(msg.id) if e.name == "message.delivered").detail
    assert (
        facts["mdn_signed"]
        and facts["mic"] == next(e for e in ours.store.events(msg.id) if e.name == "as2.built").detail["mic"]
    )


def test_transient_failure_is_retried_with_the_same_message_id(tmp_path):
    ours, theirs, sender = make_pair(tmp_path)
    real = theirs.receiver
    theirs.receiver = None  # the partner's server answers 503 until configured
    with serve(theirs) as url:
        ours.receiver.partners = {"PARTNER": partner_settings("PARTNER", url=url)}.get
        first = sender.send(X12, ours.receiver.partners("PARTNER"), filename="o.edi")
        assert first.status == MessageStatus.retrying and "503" in first.reason
        theirs.app.state.as2_receiver = real  # configured now (an operator fixed the partner's side)
        second = sender.attempt(first.id)
    assert second.status == MessageStatus.delivered
    [received] = [m for m in real.store.list_messages().items if m.direction == "inbound"]
    assert received.transport_id == first.transport_id == second.transport_id


def test_negative_mdn_is_a_partner_rejection_not_retried(tmp_path):
    # the partner requires encryption, we do not encrypt: it answers insufficient-message-security
    ours, theirs, sender = make_pair(tmp_path)
    with serve(theirs) as url:
        ours.receiver.partners = {"PARTNER": partner_settings("PARTNER", url=url, encrypt=False)}.get
        msg = sender.send(X12, ours.receiver.partners("PARTNER"), filename="o.edi")
    assert msg.status == MessageStatus.failed
    assert "insufficient-message-security" in msg.reason and msg.error["kind"] == "PartnerRejected"


def test_no_mdn_requested_delivered_on_http_2xx(tmp_path):
    ours, theirs, sender = make_pair(tmp_path)
    with serve(theirs) as url:
        ours.receiver.partners = {"PARTNER": partner_settings("PARTNER", url=url, mdn="none")}.get
        msg = sender.send(X12, ours.receiver.partners("PARTNER"), filename="o.edi")
    assert msg.status == MessageStatus.delivered and ours.store.acks_of(msg.id) == []


def test_async_mdn_arrives_on_our_endpoint_and_delivers(tmp_path):
    ours, theirs, sender = make_pair(tmp_path)
    with serve(ours) as our_url, serve(theirs) as url:
        own = ours.receiver.own
        sender.own = As2OwnSettings(**{**{f: getattr(own, f) for f in own.__slots__}, "mdn_url": our_url})
        from gateway.as2.settings import organization

        sender.org = organization(sender.own)
        ours.receiver.partners = {"PARTNER": partner_settings("PARTNER", url=url, mdn="async")}.get
        theirs.receiver.partners = {"GATEWAY": partner_settings("GATEWAY", async_mdn_urls=(our_url,))}.get
        msg = sender.send(X12, ours.receiver.partners("PARTNER"), filename="o.edi")
        assert msg.status == MessageStatus.sent
        done = wait(lambda: ours.store.get(msg.id).status == MessageStatus.delivered and ours.store.get(msg.id))
    assert done.status == MessageStatus.delivered
    assert "mdn.received" in [e.name for e in ours.store.events(msg.id)]


def test_async_mdn_overdue(tmp_path):
    ours, theirs, sender = make_pair(tmp_path)
    with serve(theirs) as url:
        # the partner never answers: its async MDN goes to a URL where nobody listens
        sender.own = replace(sender.own, mdn_url="http://127.0.0.1:9/as2")
        from gateway.as2.settings import organization

        sender.org = organization(sender.own)
        ours.receiver.partners = {"PARTNER": partner_settings("PARTNER", url=url, mdn="async", mdn_timeout=0.0)}.get
        msg = sender.send(X12, ours.receiver.partners("PARTNER"), filename="o.edi")
    assert msg.status == MessageStatus.sent
    assert sender.check_overdue() == [msg.id]
    assert ours.store.get(msg.id).status == MessageStatus.mdn_overdue


def test_partner_without_encryption_certificate_is_a_config_error_nothing_recorded(tmp_path):
    import pytest

    from gateway.errors import ConfigError

    ours, _theirs, sender = make_pair(tmp_path)
    broken = replace(partner_settings("PARTNER", url="http://127.0.0.1:9/as2"), encryption_certificate=None)
    with pytest.raises(ConfigError, match="encrypt"):
        sender.send(X12, broken, filename="o.edi")
    assert ours.store.list_messages().items == []


def test_mdn_signed_with_an_unknown_key_is_not_delivered(tmp_path):
    from tests.as2.support import keypair

    ours, theirs, sender = make_pair(tmp_path)
    with serve(theirs) as url:
        wrong = partner_settings("PARTNER", url=url, signing_certificates=(keypair("IMPOSTOR").certificate,))
        ours.receiver.partners = {"PARTNER": wrong}.get
        msg = sender.send(X12, wrong, filename="o.edi")
    assert msg.status == MessageStatus.failed and msg.error["kind"] == "SecurityError"
    assert "MDN could not be accepted" in msg.reason
    assert theirs.delivered  # the partner did receive it: the failure is about the receipt, not the message


def test_positive_mdn_with_a_different_mic_is_not_delivered(tmp_path):
    from sqlmodel import select

    from gateway.store.models import Event

    ours, theirs, sender = make_pair(tmp_path)
    theirs_real = theirs.receiver
    theirs.receiver = None  # first attempt 503, so the built message can be altered before the next one
    with serve(theirs) as url:
        ours.receiver.partners = {"PARTNER": partner_settings("PARTNER", url=url)}.get
        msg = sender.send(X12, ours.receiver.partners("PARTNER"), filename="o.edi")
        with ours.store.session() as s:
            ev = s.exec(select(Event).where(Event.message_id == msg.id, Event.name == "as2.built")).one()
            ev.detail = {**ev.detail, "mic": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
            s.add(ev)
            s.commit()
        theirs.app.state.as2_receiver = theirs_real
        done = sender.attempt(msg.id)
    assert done.status == MessageStatus.failed and "does not match ours" in done.reason
