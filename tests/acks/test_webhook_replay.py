"""A webhook request replayed with a new delivery id (the captured signature still matches: it covers the timestamp
and the body) is caught as a duplicate interchange: one 997, one canonical record. Real uvicorn, real flow."""

from __future__ import annotations

import time

import httpx

from gateway.store.models import MessageStatus
from gateway.transports.webhook import DELIVERY, signed_headers
from tests.transports.test_webhook_in import SECRET, doc, gw, inbound_messages, url  # noqa: F401 - fixtures


def test_replay_under_a_new_delivery_id_is_a_duplicate(gw, url, doc):  # noqa: F811
    headers = signed_headers(SECRET, doc, "delivery-1", time.time())
    first = httpx.post(url, content=doc, headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    replay = httpx.post(url, content=doc, headers={**headers, DELIVERY: "delivery-2-forged"}, timeout=30)
    assert replay.status_code == 200, replay.text  # accepted at the door (archived), then recognised
    original, again = (gw.store.get(r.json()["message_id"]) for r in (first, replay))
    assert original.id != again.id
    assert original.status == MessageStatus.acked
    assert again.status == MessageStatus.duplicate and f"message {original.id}" in (again.reason or "")
    assert len(gw.store.acks_of(original.id)) == 1 and gw.store.acks_of(again.id) == []
    assert gw.store.outputs(again.id) == []
    assert len(inbound_messages(gw)) == 2
