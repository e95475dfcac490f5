"""A webhook destination that answers 503 for a while (20 s, to bound the suite), then recovers: every record is
delivered afterwards, each once with a 2xx, in order per partner, signed over timestamp, event id and body."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi import FastAPI, Request, Response

from gateway.handoff.events import verify
from gateway.store.models import Direction
from tests.handoff.conftest import SAMPLE_CSV, numbered_940, start_gateway, write_handoff
from tests.support.gateway_home import drop, wait_for
from tests.support.http_server import serving

SECRET = "test-webhook-signing-key"
OUTAGE_SECONDS = 20.0


class Receiver:
    def __init__(self) -> None:
        self.first: float | None = None
        self.accepted: list[dict] = []
        self.refused = 0
        self.bad_signatures = 0
        self.lock = threading.Lock()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/events")
        async def events(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                now = time.monotonic()
                self.first = self.first or now
                if now - self.first < OUTAGE_SECONDS:
                    self.refused += 1
                    return Response(status_code=503)
                try:
                    event_id = verify(SECRET, body, dict(request.headers), now=time.time())
                except ValueError:
                    self.bad_signatures += 1
                    return Response(status_code=401)
                event = json.loads(body)
                assert event["event_id"] == event_id
                self.accepted.append(event)
            return Response(status_code=204)

        return app


@pytest.mark.slow
def test_webhook_outage_then_recovery_delivers_everything_in_order_per_partner(home, monkeypatch):
    monkeypatch.setenv("GATEWAY_SECRET_WMS_KEY", SECRET)
    receiver = Receiver()
    with serving(receiver.app()) as url:
        write_handoff(home, {
            "destinations": [{
                "name": "wms", "type": "webhook", "url": f"{url}/events", "secret": {"secret": "WMS_KEY"},
                "timeout": "5s", "retry": {"attempts": 100, "backoff": "1s", "multiplier": 1.5, "max_backoff": "3s"},
            }],
            "routes": [{"record_types": ["order"], "to": ["wms"]}],
        })
        gw = start_gateway(home)
        try:
            acme = gw.settings.data_path / "channels" / "acme-retail" / "inbound"
            acme.mkdir(parents=True, exist_ok=True)
            for n in range(1, 16):
                (acme / f"o{n:02d}.edi").write_bytes(numbered_940(n))
            drop(SAMPLE_CSV, gw.settings.data_path / "channels" / "coastal-grocers" / "inbound")
            wait_for(lambda: len(receiver.accepted) >= 17, timeout=OUTAGE_SECONDS + 40, interval=0.5)
            time.sleep(1.5)  # nothing more may come
        finally:
            gw.stop()
    assert receiver.refused > 0 and receiver.bad_signatures == 0
    ids = [e["event_id"] for e in receiver.accepted]
    assert len(ids) == len(set(ids)) == 17
    for partner, count in (("acme-retail", 15), ("coastal-grocers", 2)):
        got = [(e["message_id"], e["position"]) for e in receiver.accepted if e["partner"] == partner]
        assert len(got) == count and got == sorted(got), got
    inbound = gw.store.list_messages(direction=Direction.inbound, limit=100).items
    assert {m.handoff_status for m in inbound} == {"delivered"}
    names = [e.name for e in gw.store.events(inbound[-1].id)]
    assert "handoff.retry_scheduled" in names and names[-1] == "handoff.delivered"
