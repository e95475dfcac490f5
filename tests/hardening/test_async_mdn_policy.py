"""Async MDNs go only to known partners, over http(s), to URLs their partner file allows; they are stored work
delivered by a job (no sleep in the request), and an MDN left queued by a stop goes out after the restart."""

from __future__ import annotations

import time

import pytest

from gateway.as2.mdn_policy import refusal
from gateway.as2.ratelimit import RateLimiter
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.models import Direction, MessageStatus
from tests.as2 import peer
from tests.as2.support import make_node, own_settings, partner_settings, post, serve
from tests.hardening.listener import listener
from tests.support.as2_home import as2_home

X12 = b"ISA*00*          *00*          *ZZ*PARTNER        *ZZ*GATEWAY        *240101*1200*U*00401*000000001*0*P*>~"


@pytest.mark.parametrize(
    ("url", "known", "partner_url", "allowed", "refused"),
    [
        ("https://as2.p.example/mdn", True, "https://as2.p.example/as2", (), None),
        ("https://as2.p.example:443/x", True, "https://as2.p.example/as2", (), None),
        ("https://as2.p.example:8443/x", True, "https://as2.p.example/as2", (), "host"),
        ("http://169.254.169.254/latest", True, "https://as2.p.example/as2", (), "host"),
        ("https://as2.p.example/mdn", False, "https://as2.p.example/as2", (), "not a known partner"),
        ("file:///etc/passwd", True, "https://as2.p.example/as2", (), "scheme"),
        ("gopher://as2.p.example/", True, "https://as2.p.example/as2", (), "scheme"),
        ("https://u:pw@as2.p.example/mdn", True, "https://as2.p.example/as2", (), "credentials"),
        ("https://mdn.p.example/in/42", True, None, ("https://mdn.p.example/in/*",), None),
        ("https://mdn.p.example/other", True, None, ("https://mdn.p.example/in/*",), "async_mdn_urls"),
        ("https://mdn.p.example/exact", True, None, ("https://mdn.p.example/exact",), None),
        ("https://mdn.p.example/exact2", True, None, ("https://mdn.p.example/exact",), "async_mdn_urls"),
        ("https://as2.p.example/mdn", True, None, (), "no AS2 url"),
        ("", True, "https://as2.p.example/as2", (), "no Receipt"),
    ],
)
def test_policy(url, known, partner_url, allowed, refused):
    why = refusal(url, known=known, partner_url=partner_url, allowed=allowed)
    assert (why is None) if refused is None else (why is not None and refused in why), why


def test_rate_limiter_refills_and_bounds_its_table():
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2, max_keys=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 1.0]
    now[0] += 1.0
    assert limiter.take("a") == 0.0
    for k in "bcdefg":
        limiter.take(k)
    assert len(limiter._buckets) <= 5  # three clients, the shared overflow bucket and the total


def test_rate_limiter_bounds_a_flood_spread_over_many_addresses():
    limiter = RateLimiter(rate=1.0, burst=2, total_factor=3.0, clock=lambda: 0.0)
    admitted = sum(1 for i in range(100) if limiter.take(f"10.0.0.{i}") == 0.0)
    assert admitted == 6  # the shared bucket: 3 x the burst of one client


def test_known_partner_naming_another_host_gets_its_mdn_synchronously_and_nothing_is_posted(tmp_path):
    node = make_node(tmp_path, own_settings(), [partner_settings(url="https://as2.partner.example/as2")])
    with listener() as (target, received), serve(node) as url:
        msg = peer.build(X12, org=peer.partner_org(mdn_url=f"{target}/internal"), mdn_mode="ASYNC")
        r = post(url, msg.headers, msg.content)
        time.sleep(0.5)
    assert r.status_code == 200 and r.content  # the MDN is in the answer instead
    assert peer.parse_mdn(msg, dict(r.headers), r.content) == ("processed", None)
    assert received == []
    [inbound] = node.store.list_messages(direction=Direction.inbound).items
    refused = [e for e in node.store.events(inbound.id) if e.name == "mdn.async_refused"]
    assert refused and "host" in refused[0].detail["reason"]


def test_queued_async_mdn_is_delivered_after_a_restart(tmp_path):
    with listener() as (target, received):
        home = as2_home(tmp_path, channel={"url": f"{target}/as2"})  # async MDNs may go to the partner's own host
        msg = peer.build(X12, org=peer.partner_org(mdn_url=f"{target}/mdn"), mdn_mode="ASYNC")
        first = Gateway(load_settings(home / "config" / "gateway.yaml"))
        try:  # the MDN is queued as stored work; this gateway stops before its scheduler ever runs
            answer = first.as2.receiver.handle(msg.content, dict(msg.headers))
            assert answer.status_code == 200 and answer.async_mdn is not None and answer.body == b""
        finally:
            first.stop()
        assert received == []
        second = Gateway(load_settings(home / "config" / "gateway.yaml"))
        second.start()
        try:
            deadline = time.monotonic() + 20
            while second.store.get(answer.async_mdn[0]).status != MessageStatus.delivered:
                assert time.monotonic() < deadline, "the queued MDN was not delivered after the restart"
                time.sleep(0.1)
            assert [p for p, _b in received] == ["/mdn"]
        finally:
            second.stop()
