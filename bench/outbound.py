"""Sending business documents: records per second from a submission to the X12 archived and written on the
partner's folder channel, and peak memory for a 10,000-record submission, measured in one run against:

- reference: the bare mapping + writer (``gateway.mapping.x12.from_canonical``) on the same records, in memory,
  no validation, no archive, no store, no delivery (what ``gateway translate`` does);
- gateway: ``DocumentFlow.submit`` of one JSON list (stream-read from the archive, planned, control numbers
  taken, written one transaction set at a time to a temporary file, validated by our validator, archived,
  recorded with its lineage and business keys in one transaction, written to var/channels/acme-retail/outbound);
- gateway, one record per submission (the API's usual case): documents per second.

Each size runs in a fresh process; peak memory is the tracemalloc peak during the submission (the Python heap
the work allocates) and the process's max RSS. Memory must not grow with the batch: compare 1,000 and 10,000.

usage: .venv/bin/python bench/outbound.py [--records 10000] [--small 1000] [--singles 100]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def records(n: int) -> list[dict]:
    base = json.loads((REPO / "tests" / "outbound" / "shipment.json").read_text())
    return [{**base, "shipment_id": f"BOL{i:07d}", "purchase_order": f"PO{i:07d}"} for i in range(n)]


def gateway(home: Path):  # type: ignore[no-untyped-def]
    from gateway.runtime import Gateway
    from gateway.settings import load_settings
    from tests.support.gateway_home import make_home

    make_home(home)
    os.chdir(home)
    return Gateway(load_settings(home / "config" / "gateway.yaml", home=home))


def child(mode: str, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        body = json.dumps(records(n)).encode()
        gw = gateway(Path(tmp))
        if mode == "reference":
            from gateway.canonical import parse_record
            from gateway.flows.compose import envelope_for
            from gateway.mapping.x12 import from_canonical

            partner = gw.registry.get("acme-retail")
            env, _s, _r = envelope_for(partner, gw.settings.identity, "004010UCS")
            tracemalloc.start()
            t0 = time.perf_counter()
            recs = [parse_record(r) for r in json.loads(body)]
            data = from_canonical(recs, env, set_id="945")
            seconds = time.perf_counter() - t0
            out = {"bytes": len(data)}
        elif mode == "submit":
            gw.documents.submit(json.dumps(records(1)).encode(), partner_id="acme-retail", set_id="945")  # warm up
            tracemalloc.start()
            t0 = time.perf_counter()
            res = gw.documents.submit(body, partner_id="acme-retail", set_id="945")
            seconds = time.perf_counter() - t0
            assert res.valid and res.message.delivery_status == "delivered", res.message.reason
            out = {"bytes": res.message.size}
        else:  # singles
            one = [json.dumps(r).encode() for r in records(n)]
            gw.documents.submit(one[0], partner_id="acme-retail", set_id="945")
            tracemalloc.start()
            t0 = time.perf_counter()
            for b in one:
                assert gw.documents.submit(b, partner_id="acme-retail", set_id="945").valid
            seconds = time.perf_counter() - t0
            out = {"bytes": 0}
        _cur, peak = tracemalloc.get_traced_memory()
        gw.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**out, "seconds": seconds, "peak_mb": peak / 2**20, "rss_mb": rss}


def run(mode: str, n: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")} | {"GATEWAY_LOG_LEVEL": "ERROR"}
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(n)], capture_output=True, text=True,
                         check=True, timeout=3600, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--singles", type=int, default=100)
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    print(f"{'what':<44} {'records':>8} {'seconds':>8} {'rec/s':>8} {'peak MB':>8} {'RSS MB':>7}")
    results = {}
    for mode, n in (("reference", args.small), ("reference", args.records), ("submit", args.small),
                    ("submit", args.records), ("singles", args.singles)):
        r = run(mode, n)
        results[(mode, n)] = r
        label = {"reference": "reference: mapping + writer, in memory",
                 "submit": "gateway: one submission -> folder channel",
                 "singles": "gateway: one record per submission"}[mode]
        print(f"{label:<44} {n:>8} {r['seconds']:>8.2f} {n / r['seconds']:>8.0f} {r['peak_mb']:>8.1f} "
              f"{r['rss_mb']:>7.0f}")
    ref, gw = results[("reference", args.records)], results[("submit", args.records)]
    print(f"\nthroughput, {args.records} records: gateway / reference = {ref['seconds'] / gw['seconds']:.2f}")
    small, big = results[("submit", args.small)], results[("submit", args.records)]
    print(f"peak memory, gateway: {args.records} vs {args.small} records = {big['peak_mb'] / small['peak_mb']:.2f}x "
          f"(records x{args.records / args.small:.0f}); reference: "
          f"{ref['peak_mb'] / results[('reference', args.small)]['peak_mb']:.2f}x")


if __name__ == "__main__":
    main()
