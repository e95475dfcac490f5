"""Broker intake throughput: canonical shipments published to the intake queue until their 945s are delivered to
the partner's folder channel, against the same documents submitted straight to ``DocumentFlow.submit`` (the API's
and the outbox's path, no broker) in the same run, on the same gateway home.

    .venv/bin/python bench/intake.py                # 200 shipments each way
    .venv/bin/python bench/intake.py --count 50

Needs the RabbitMQ broker at 127.0.0.1:5672 (guest/guest); the queue it uses is deleted afterwards. Prints
documents/s for each and the ratio intake / direct (1.00: the broker costs nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pika
import yaml

from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.outbound.conftest import shipment
from tests.support.gateway_home import make_home


def body(tag: str, n: int) -> bytes:
    return json.dumps(shipment(shipment_id=f"{tag}{n:06d}", order_number=f"{tag}{n:06d}")).encode()


def wait(check, timeout: float = 600.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=200)
    args = ap.parse_args()
    n = args.count
    queue = f"bench-intake-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        home = make_home(Path(tmp))
        (home / "config" / "handoff.yaml").write_text(yaml.safe_dump({"intake": [
            {"name": "bench", "type": "rabbitmq", "queue": queue, "prefetch": 50}]}))
        gw = Gateway(load_settings(home / "config" / "gateway.yaml", home=home))
        gw.start()
        out = home / "var" / "channels" / "acme-retail" / "outbound"
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
        try:
            ch = conn.channel()
            wait(lambda: gw.intake.status() and gw.intake.status()[0]["connected"], timeout=30)
            t0 = time.perf_counter()
            for i in range(n):
                gw.documents.submit(body("D", i), partner_id="acme-retail", set_id="945",
                                    idempotency_key=f"direct-{i}", source="bench")
            direct = time.perf_counter() - t0
            wait(lambda: len(list(out.glob("*.x12"))) >= n)
            ch.confirm_delivery()
            props = {"partner": "acme-retail", "set_id": "945"}
            t0 = time.perf_counter()
            for i in range(n):
                ch.basic_publish("", queue, body("Q", i), mandatory=True, properties=pika.BasicProperties(
                    headers=props, message_id=f"q-{i}", content_type="application/json", delivery_mode=2))
            published = time.perf_counter() - t0
            wait(lambda: len(list(out.glob("*.x12"))) >= 2 * n)
            intake = time.perf_counter() - t0
            status = gw.intake.status()[0]
        finally:
            gw.stop()
            ch = conn.channel()
            ch.queue_delete(queue)
            ch.queue_delete(f"{queue}.dead")
            ch.exchange_delete(f"{queue}.dead")
            conn.close()
    print(f"broker intake, {n} shipments (945 to a folder channel), one record per message")
    print(f"  direct DocumentFlow.submit loop             {n / direct:8.1f} documents/s   1.00x direct")
    print(f"  intake: publish -> acked, built, delivered  {n / intake:8.1f} documents/s   {direct / intake:.2f}x direct"
          f"   (publishing alone took {published:.2f}s; acked {status['acked']})")


if __name__ == "__main__":
    main()
