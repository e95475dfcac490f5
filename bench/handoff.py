"""Hand-off throughput to RabbitMQ, against a bare publish loop with the same client, measured in one run:

- bare (measured first and last, the better figure kept): pika's BlockingConnection, publisher confirms on,
  persistent messages, the same event bodies, one publish after another (what any careful publisher does; the
  ceiling for the gateway's sweep);
- sweep: the gateway's hand-off alone: N events already in the outbox, delivered by ``HandoffFlow.sweep`` (claim
  with lease, publish with confirm, outcomes + timeline + statuses written per batch);
- end to end: N inbound 940 files dropped in a partner's inbox until N confirmed publishes sit in the queue
  (archive, envelope, partner, 997, mapping, release, sweep: the whole inbound flow).

usage: .venv/bin/python bench/handoff.py [--count 500]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pika  # noqa: E402

from gateway.handoff.events import iter_record_events  # noqa: E402
from gateway.runtime import Gateway  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.store.models import Direction, MessageStatus  # noqa: E402
from tests.handoff.conftest import write_940s, write_handoff  # noqa: E402
from tests.support import rabbitmq  # noqa: E402
from tests.support.gateway_home import make_home  # noqa: E402

RECORD = json.loads((REPO / "samples/x12/940/acme-retail-new-order.canonical.json").read_text())["documents"][0]


def bare(count: int, scratch: rabbitmq.Scratch, bodies: list[bytes]) -> float:
    conn = pika.BlockingConnection(pika.ConnectionParameters(rabbitmq.HOST, rabbitmq.PORT))
    ch = conn.channel()
    ch.confirm_delivery()
    start = time.perf_counter()
    for n, body in enumerate(bodies[:count]):
        props = pika.BasicProperties(content_type="application/json", delivery_mode=2, message_id=f"bare-{n}")
        ch.basic_publish(scratch.exchange, "acme-retail.order", body, properties=props, mandatory=True)
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def gateway_home(scratch: rabbitmq.Scratch, base: Path) -> Gateway:
    home = make_home(base)
    write_handoff(home, {
        "destinations": [{"name": "bus", "type": "rabbitmq", "exchange": scratch.exchange, "batch": 500}],
        "routes": [{"to": ["bus"]}],
    })
    settings = load_settings(home / "config" / "gateway.yaml", folder={"min_age_seconds": 0.0, "sweep_seconds": 0.5},
                             handoff_sweep_seconds=0.2)
    return Gateway(settings)


def sweep_only(count: int, scratch: rabbitmq.Scratch, base: Path) -> float:
    gw = gateway_home(scratch, base)
    now = datetime.now(UTC)
    for n in range(count):
        msg, _ = gw.store.create_message(direction=Direction.inbound, status=MessageStatus.acked,
                                         partner_id="acme-retail", sha256="0" * 64, idempotency_key=f"b{n}", events=[])
        assert msg.id is not None
        event = next(iter_record_events(message_id=msg.id, partner="acme-retail", documents=[RECORD], set_ids=["940"],
                                        keys_of=lambda d: [("order", d["order_number"])], occurred_at=now))
        gw.handoff.outbox.release(msg.id, [(event, [("bus", "rabbitmq")])], now=now)
    start = time.perf_counter()
    done = 0
    while done < count:
        done += gw.handoff.sweep()
    elapsed = time.perf_counter() - start
    gw.handoff.close()
    gw.engine.dispose()
    return count / elapsed


def end_to_end(count: int, scratch: rabbitmq.Scratch, base: Path) -> float:
    gw = gateway_home(scratch, base)
    inbox = gw.settings.data_path / "channels" / "acme-retail" / "inbound"
    gw.start()
    try:
        start = time.perf_counter()
        write_940s(inbox, count)
        while scratch.count() < count:
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
    finally:
        gw.stop()
    return count / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=500)
    args = ap.parse_args()
    if rabbitmq.reachable():
        sys.exit(rabbitmq.reachable())
    body = json.dumps({"event_id": "1-1", "type": "order.received", "record": RECORD}).encode()
    bodies = [body] * args.count
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        with rabbitmq.scratch() as s:
            results["bare publish loop (pika, confirms)"] = bare(args.count, s, bodies)
        with rabbitmq.scratch() as s:
            results["gateway sweep (outbox -> confirmed publish)"] = sweep_only(args.count, s, Path(tmp) / "a")
        with rabbitmq.scratch() as s:
            results["gateway end to end (inbound 940 file -> confirmed publish)"] = end_to_end(
                args.count, s, Path(tmp) / "b")
        with rabbitmq.scratch() as s:  # again: the machine's load drifts during a run; the better figure counts
            again = bare(args.count, s, bodies)
            results["bare publish loop (pika, confirms)"] = max(again, results["bare publish loop (pika, confirms)"])
    ref = results["bare publish loop (pika, confirms)"]
    print(f"hand-off to RabbitMQ, {args.count} records, {len(body)} byte events")
    for name, rate in results.items():
        print(f"  {name:<62} {rate:9.0f} records/s   {rate / ref:6.2f}x bare")


if __name__ == "__main__":
    main()
