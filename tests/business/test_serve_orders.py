"""Orders and shipments as a new user meets them: a real ``gateway serve``, the real API and CLI, a real folder
inbox, a real webhook destination, the real 940 from acme-retail (samples/) and 214s written from ALNK's real
214 (samples/), our 945 and 856 submitted through ``POST /api/documents``."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI, Request, Response

from gateway.edi.x12 import AckOptions, SequentialControlNumbers, analyze, build_acknowledgement
from gateway.handoff.events import verify
from tests.outbound.conftest import shipment
from tests.support.apikeys import create_key
from tests.support.gateway_home import drop, make_home, wait_for
from tests.support.http_server import serving
from tests.support.serve import GATEWAY, ServeProcess

REPO = Path(__file__).resolve().parents[2]
SAMPLE_940 = REPO / "samples" / "x12" / "940" / "acme-retail-new-order.edi"
SAMPLE_214 = REPO / "samples" / "x12" / "214" / "alink-carrier-status.edi"
SECRET = "orders-webhook-secret"


class Receiver:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/events")
        async def events(request: Request) -> Response:
            body = await request.body()
            verify(SECRET, body, dict(request.headers), now=datetime.now(UTC).timestamp())
            with self.lock:
                self.events.append(json.loads(body))
            return Response(status_code=204)

        return app


def _levels(home: Path, partner: str, levels: list[dict]) -> None:
    path = home / "partners" / f"{partner}.yaml"
    shipped = path.read_text().split("\nservice_levels:")[0]  # the example's own levels, replaced
    path.write_text(shipped.rstrip("\n") + "\nservice_levels:\n" + "".join(
        f"  - {json.dumps(lv)}\n" for lv in levels))


def _handoff(home: Path, url: str) -> None:
    (home / "config" / "handoff.yaml").write_text(yaml.safe_dump({
        "destinations": [{"name": "wms", "type": "webhook", "url": f"{url}/events", "secret": {"secret": "WMS_KEY"},
                          "timeout": "5s"}],
        "routes": [{"record_types": ["sla"], "to": ["wms"]}],
    }, sort_keys=False))


def status_214(control: int, shipment_id: str, code: str, when: datetime) -> bytes:
    """ALNK's real 214 (samples/) for another shipment, control number and carrier status (AT7-01) at ``when``."""
    text = SAMPLE_214.read_text()
    text = text.replace("000005215", f"{control:09d}").replace("*5215*", f"*{control}*").replace(
        "GE*1*5215", f"GE*1*{control}").replace("052150001", f"{control:05d}0001")
    text = text.replace("B10*187676*857395857*ALNK", f"B10*PRO{control}*{shipment_id}*ALNK")
    text = re.sub(r"AT7\*[A-Z0-9]{2}\*NS\*\*\*\d{8}\*\d{4}",
                  f"AT7*{code}*NS***{when:%Y%m%d}*{when:%H%M}", text)
    return text.encode()


def _drop_bytes(data: bytes, inbox: Path, name: str) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    tmp = inbox / f".{name}.part"
    tmp.write_bytes(data)
    tmp.rename(inbox / name)


def _order_945(order: dict, *, shipment_id: str, quantities: tuple[int, int]) -> dict:
    """Our 945 for the sample order: its two lines (products as the 940 names them) with shipped quantities."""
    today = datetime.now(UTC).date().isoformat()
    lines = []
    for line, qty in zip(order["lines"], quantities, strict=True):
        lines.append({"line_number": line["line_number"], "product": {"vendor_part": line["product"]["vendor_part"]},
                      "quantity_shipped": str(qty), "quantity_ordered": line["quantity"], "uom": "CA",
                      "quantity_difference": str(int(line["quantity"]) - qty),
                      "status": "CC" if qty == int(line["quantity"]) else "CP"})
    return shipment(shipment_id=shipment_id, order_number=order["order_number"],
                    purchase_order=order["purchase_order"], ship_date=today,
                    orders=[{"purchase_order": order["purchase_order"], "order_number": order["order_number"],
                             "lines": lines}],
                    packages=[], total_quantity=str(sum(quantities)))


def _sample_order() -> dict:
    data = json.loads((REPO / "samples/x12/940/acme-retail-new-order.canonical.json").read_text())
    return data.get("documents", [data])[0] if isinstance(data, dict) else data[0]


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


def test_one_order_from_940_to_delivered_with_every_document_and_acknowledgement(home):
    _levels(home, "acme-retail", [{"name": "shipping-advice", "start": "ordered", "to": "shipped", "within": "24h"}])
    _levels(home, "alink-carrier", [{"name": "delivery", "start": "shipped", "to": "delivered", "within": "5d"},
                                    {"name": "first-status", "start": "picked_up", "to": "delivered",
                                     "within": "12h"}])
    key = create_key(home, name="support", role="operator")
    auth = {"X-API-Key": key}
    gw = ServeProcess(home, env={"GATEWAY_SERVICE_LEVEL_CHECK_SECONDS": "1"})
    try:
        gw.wait_healthy(timeout=20)
        # the 940 from acme-retail
        drop(SAMPLE_940, home / "var" / "channels" / "acme-retail" / "inbound")
        wait_for(lambda: [m for m in httpx.get(f"{gw.url}/api/messages?direction=inbound&partner=acme-retail",
                                               headers=auth, timeout=5).json()["items"] if m["status"] == "acked"],
                 timeout=20)
        order = _sample_order()
        # our 945 (everything shipped) and our 856 for the same shipment
        ship = _order_945(order, shipment_id="SHP-0042", quantities=(750, 170))
        for set_id in ("945", "856"):
            res = httpx.post(f"{gw.url}/api/documents?partner=acme-retail&set_id={set_id}",
                             content=json.dumps(ship), headers={**auth, "Content-Type": "application/json",
                                                                 "Idempotency-Key": f"ship-{set_id}"}, timeout=30)
            assert res.status_code == 201, res.text
        # acme's 997 for our 945, built from their side from the bytes we wrote
        outbox = home / "var" / "channels" / "acme-retail" / "outbound"
        [ours] = [p for p in outbox.iterdir() if "-945-" in p.name]
        [ic] = analyze(ours.read_bytes()).interchanges
        ack = build_acknowledgement(ic, control_numbers=SequentialControlNumbers(interchange=904, group=904),
                                    options=AckOptions(timestamp=datetime.now(UTC)))
        assert ack is not None
        _drop_bytes(ack, home / "var" / "channels" / "acme-retail" / "inbound", "acme-997.edi")
        # three 214s from ALNK: in transit, out for delivery, delivered; the shipment id written their way
        now = datetime.now(UTC)
        carrier = home / "var" / "channels" / "alink-carrier" / "inbound"
        for n, code in ((6001, "AF"), (6002, "X6"), (6003, "D1")):
            _drop_bytes(status_214(n, "shp0042", code, now), carrier, f"status-{n}.edi")
            wait_for(lambda n=n: httpx.get(f"{gw.url}/api/messages?q=PRO{n}", headers=auth,
                                           timeout=5).json()["total"] == 1, timeout=20)

        seen: list = []

        def delivered():
            res = httpx.get(f"{gw.url}/api/orders/0018061923", headers=auth, timeout=10)  # zeros do not matter
            seen[:] = [res.status_code, res.text]
            return res.json() if res.status_code == 200 and res.json()["stage"] == "delivered" and all(
                d["status"] in ("acked", "processed", "delivered", "sent") for d in res.json()["documents"]) else None

        try:
            t = wait_for(delivered, timeout=30, interval=0.5)
        except AssertionError:
            raise AssertionError(f"{seen[0]}: {seen[1][:3000]}") from None
        sets = [(d["direction"], d["sets"][0], d["partner_id"]) for d in t["documents"]]
        assert sets == [("inbound", "940", "acme-retail"), ("outbound", "945", "acme-retail"),
                        ("outbound", "856", "acme-retail"), ("inbound", "214", "alink-carrier"),
                        ("inbound", "214", "alink-carrier"), ("inbound", "214", "alink-carrier")], sets
        by_set = {d["sets"][0]: d for d in t["documents"]}
        # acknowledgements: ours for the 940 and the 214s, acme's for our 945
        assert [a["kind"] for a in by_set["940"]["acknowledgements"]] == ["997"]
        wait_for(lambda: httpx.get(f"{gw.url}/api/orders/18061923", headers=auth, timeout=10).json()
                 ["documents"][1]["acknowledgement_status"] == "accepted", timeout=20)
        t = httpx.get(f"{gw.url}/api/orders/18061923", headers=auth, timeout=10).json()
        assert t["documents"][1]["acknowledgements"][0]["result"] == "A"
        assert all(d["acknowledgements"] for d in t["documents"] if d["sets"] == ["214"])
        assert [s["code"] for s in t["carrier_statuses"]] == ["DEPARTED_PICKUP", "X6", "DELIVERED"]
        assert set(t["milestones"]) >= {"ordered", "shipped", "picked_up", "out_for_delivery", "delivered"}
        assert t["quantities"]["summary"] == "matched"
        assert [(ln["ordered"], ln["shipped"], ln["state"]) for ln in t["quantities"]["lines"]] == [
            ("750", "750", "matched"), ("170", "170", "matched")]
        assert {p["role"] for p in t["parties"]} >= {"ship_to", "ship_from"}
        assert t["breaches"] == [] and {lv["name"] for lv in t["service_levels"]} == {
            "shipping-advice", "delivery", "first-status"}
        # the same timeline by PO (case and spaces differ) and from the shipment's side
        by_po = httpx.get(f"{gw.url}/api/orders/TEST%20ORDER%201", headers=auth, timeout=10).json()
        assert [d["message_id"] for d in by_po["documents"]] == [d["message_id"] for d in t["documents"]]
        shp = httpx.get(f"{gw.url}/api/shipments/SHP0042", headers=auth, timeout=10).json()
        assert shp["stage"] == "delivered" and len(shp["documents"]) == 6
        # the index: listed by stage and partner once the job has run
        listed = wait_for(lambda: httpx.get(f"{gw.url}/api/orders?stage=delivered&partner=acme-retail",
                                            headers=auth, timeout=10).json()["items"], timeout=40)
        assert [o["normalised_key"] for o in listed] == ["18061923"]
        assert httpx.get(f"{gw.url}/api/orders?breached=true", headers=auth, timeout=10).json()["total"] == 0
        assert httpx.get(f"{gw.url}/api/orders/NOPE-1", headers=auth, timeout=10).status_code == 404
        assert httpx.get(f"{gw.url}/api/orders?stage=lost", headers=auth, timeout=10).status_code == 422
        # the support page shows it too (signed in with the key; the session cookie is all the browser keeps)
        with httpx.Client(base_url=gw.url, timeout=10, follow_redirects=True) as ui:
            assert ui.post("/ui/login", data={"api_key": key, "next": "/ui/orders"}).status_code == 200
            page = ui.get("/ui/orders/18061923")
            assert page.status_code == 200 and "stage-delivered" in page.text and "qty-matched" in page.text
            assert page.text.count("/ui/messages/") >= 6
            listing = ui.get("/ui/orders", params={"stage": "delivered"})
            assert "/ui/orders/18061923" in listing.text and 'href="/ui/orders"' in listing.text
            assert ui.get("/ui/orders/NOPE-1").status_code == 404
        # the CLI shows the same timeline
        out = subprocess.run([str(GATEWAY), "orders", "show", "18061923"], cwd=home, capture_output=True, text=True,
                             timeout=60, env={"PATH": str(GATEWAY.parent)})
        assert out.returncode == 0, out.stderr
        assert "stage: delivered" in out.stdout and "quantities: matched" in out.stdout
    finally:
        gw.stop()


def test_a_940_without_945_in_its_window_is_a_breach_on_the_worklist_and_a_destination(home, monkeypatch):
    _levels(home, "acme-retail", [{"name": "shipping-advice", "start": "ordered", "to": "shipped", "within": "3s"}])
    receiver = Receiver()
    with serving(receiver.app()) as url:
        _handoff(home, url)
        key = create_key(home, name="support", role="operator")
        auth = {"X-API-Key": key}
        gw = ServeProcess(home, env={"GATEWAY_SERVICE_LEVEL_CHECK_SECONDS": "1", "GATEWAY_SECRET_WMS_KEY": SECRET,
                                     "GATEWAY_HANDOFF_SWEEP_SECONDS": "0.5"})
        try:
            gw.wait_healthy(timeout=20)
            drop(SAMPLE_940, home / "var" / "channels" / "acme-retail" / "inbound")
            # no 945 comes: after 3 s the order is on the worklist, and the destination hears of it once
            items = wait_for(lambda: httpx.get(f"{gw.url}/api/attention?kind=sla_breach", headers=auth,
                                               timeout=5).json()["items"], timeout=30, interval=0.5)
            assert len(items) == 1 and items[0]["partner_id"] == "acme-retail" and items[0]["set_ids"] == "940"
            assert "shipping-advice" in items[0]["reason"] and "no shipped within" in items[0]["reason"]
            wait_for(lambda: receiver.events, timeout=20, interval=0.3)
            [event] = receiver.events
            assert event["type"] == "sla.breached" and event["record_type"] == "sla"
            assert event["object"] == {"kind": "order", "key": "18061923"}
            assert event["breach"]["service_level"] == "shipping-advice" and event["breach"]["kind"] == "missing"
            t = httpx.get(f"{gw.url}/api/orders/18061923", headers=auth, timeout=10).json()
            assert t["stage"] == "ordered" and [b["service_level"] for b in t["breaches"]] == ["shipping-advice"]
            assert t["documents"][0]["service_level_events"][0]["name"] == "sla.breached"
            listed = httpx.get(f"{gw.url}/api/orders?breached=true", headers=auth, timeout=10).json()
            assert [o["key"] for o in listed["items"]] == ["18061923"]
            metrics = httpx.get(f"{gw.url}/metrics", headers=auth, timeout=10).text
            assert re.search(r'gateway_sla_breaches_total\{kind="missing",partner="acme-retail",'
                             r'service_level="shipping-advice"\} 1\.0', metrics), metrics[-2000:]
            # the 945 comes late and short: 700 of 750 cases on line 1
            ship = _order_945(_sample_order(), shipment_id="SHP-0077", quantities=(700, 170))
            res = httpx.post(f"{gw.url}/api/documents?partner=acme-retail&set_id=945", content=json.dumps(ship),
                             headers={**auth, "Content-Type": "application/json"}, timeout=30)
            assert res.status_code == 201, res.text
            t = wait_for(lambda: (lambda t: t if t["stage"] == "shipped" else None)(
                httpx.get(f"{gw.url}/api/orders/18061923", headers=auth, timeout=10).json()), timeout=20)
            assert t["quantities"]["summary"] == "short" and t["quantities"]["short"] == 1
            assert [(ln["ordered"], ln["shipped"], ln["difference"], ln["state"])
                    for ln in t["quantities"]["lines"]] == [("750", "700", "-50", "short"),
                                                            ("170", "170", "0", "matched")]
            # still one breach, announced once, however often the job runs
            import time
            time.sleep(3)
            assert len(receiver.events) == 1
            assert len(httpx.get(f"{gw.url}/api/orders/18061923", headers=auth, timeout=10).json()["breaches"]) == 1
        finally:
            gw.stop()


@pytest.mark.parametrize("point", ["sla.after_record", "sla.after_handoff"])
def test_killed_after_a_breach_is_recorded_it_is_announced_once_after_restart(home, point):
    _levels(home, "acme-retail", [{"name": "shipping-advice", "start": "ordered", "to": "shipped", "within": "2s"}])
    receiver = Receiver()
    with serving(receiver.app()) as url:
        _handoff(home, url)
        key = create_key(home, name="support", role="operator")
        env = {"GATEWAY_SERVICE_LEVEL_CHECK_SECONDS": "1", "GATEWAY_SECRET_WMS_KEY": SECRET,
               "GATEWAY_HANDOFF_SWEEP_SECONDS": "0.5"}
        first = ServeProcess(home, env={**env, "GATEWAY_FAILPOINTS": f"{point}=exit"})
        try:
            first.wait_healthy(timeout=20)
            drop(SAMPLE_940, home / "var" / "channels" / "acme-retail" / "inbound")
            assert first.wait_exit(timeout=40) == 77, first.output()
        finally:
            first.stop()
        second = ServeProcess(home, env=env)
        try:
            second.wait_healthy(timeout=20)
            wait_for(lambda: receiver.events, timeout=30, interval=0.3)
            import time
            time.sleep(3)  # more runs of the job: nothing more
            assert [e["event_id"] for e in receiver.events] == ["sla-1"]
            t = httpx.get(f"{second.url}/api/orders/18061923", headers={"X-API-Key": key}, timeout=10).json()
            assert len(t["breaches"]) == 1
            assert len(t["documents"][0]["service_level_events"]) == 1
        finally:
            second.stop()
