"""A webhook request replayed under a new delivery id is stopped twice over: the signature covers the delivery id,
so a captured request with another id is refused at the door (401, nothing processed); and the same interchange
sent again under a new, correctly signed id (a partner's system resending) is caught as a duplicate interchange:
one 997, one canonical record. Real uvicorn, real flow."""

from __future__ import annotations

import time

import httpx

from gateway.store.models import MessageStatus
from gateway.transports.webhook import DELIVERY, signed_headers
from tests.transports.test_webhook_in import SECRET, doc, gw, inbound_messages, url  # noqa: F401 - fixtures


def test_replay_under_a_new_delivery_id_is_refused_or_a_duplicate(gw, url, doc):  # noqa: F811
    headers = signed_headers(SECRET, doc, "delivery-1", time.time())
    first = httpx.post(url, content=doc, headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    forged = httpx.post(url, content=doc, headers={**headers, DELIVERY: "delivery-2-forged"}, timeout=30)
    assert forged.status_code == 401, forged.text  # the captured signature does not cover the new id
    assert len(inbound_messages(gw)) == 1
    resent = httpx.post(url, content=doc, headers=signed_headers(SECRET, doc, "delivery-3", time.time()), timeout=30)
    assert resent.status_code == 200, resent.text  # accepted at the door (archived), then recognised
    original, again = (gw.store.get(r.json()["message_id"]) for r in (first, resent))
    assert original.id != again.id
    assert original.status == MessageStatus.acked
    assert again.status == MessageStatus.duplicate and f"message {original.id}" in (again.reason or "")
    assert len(gw.store.acks_of(original.id)) == 1 and gw.store.acks_of(again.id) == []
    assert gw.store.outputs(again.id) == []
    assert len(inbound_messages(gw)) == 2
