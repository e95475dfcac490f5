"""The public AS2 edge under hostile load, against a real ``gateway serve`` process on loopback:

- ``/api/health`` latency (p50, p99, max) idle, then during a flood of unknown-sender requests asking for async
  MDNs (ratio flood / idle, measured in the same run);
- the server's peak RSS (VmHWM) after start, after a refused 95 MB unknown-sender body, and after a known
  partner's signed + encrypted message of ``--known-mb`` MB (ratio to the body size).

usage: .venv/bin/python bench/as2_edge.py [--flood 200] [--known-mb 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from tests.as2 import peer  # noqa: E402
from tests.support.as2_home import as2_home  # noqa: E402
from tests.support.as2_large import MB, peak_rss_mb  # noqa: E402
from tests.support.serve import ServeProcess  # noqa: E402


def health_latencies(url: str, seconds: float) -> list[float]:
    out: list[float] = []
    end = time.monotonic() + seconds
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < end:
            t0 = time.monotonic()
            client.get(f"{url}/api/health")
            out.append(time.monotonic() - t0)
            time.sleep(0.02)
    return out


def describe(xs: list[float]) -> str:
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
    return f"p50 {statistics.median(xs) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {xs[-1] * 1000:.1f} ms"


def unknown_headers() -> dict[str, str]:
    return {
        "AS2-From": "INTRUDER",
        "AS2-To": "GATEWAY",
        "Message-ID": f"<{uuid.uuid4()}@intruder.example>",
        "Disposition-Notification-To": "x@intruder.example",
        "Receipt-Delivery-Option": "http://127.0.0.1:9/internal",
        "Content-Type": "application/pkcs7-mime",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flood", type=int, default=200)
    ap.add_argument("--known-mb", type=int, default=20)
    args = ap.parse_args()
    home = as2_home(Path(tempfile.mkdtemp(prefix="as2-edge-")))
    gw = ServeProcess(home)
    try:
        gw.wait_healthy(timeout=30)
        print(f"peak RSS after start: {peak_rss_mb(gw.proc.pid):.0f} MB")
        idle = health_latencies(gw.url, 3)
        flood: list[float] = []
        t = threading.Thread(target=lambda: flood.extend(health_latencies(gw.url, 4)))
        t.start()
        codes: dict[int, int] = {}
        with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=60)) as attacker:

            def attack(_i: int) -> None:
                r = attacker.post(f"{gw.url}/as2", content=os.urandom(8192), headers=unknown_headers())
                codes[r.status_code] = codes.get(r.status_code, 0) + 1

            with ThreadPoolExecutor(60) as pool:
                list(pool.map(attack, range(args.flood)))
        t.join()
        print(f"health idle:  {describe(idle)}")
        print(f"health flood: {describe(flood)}  ({args.flood} unknown-sender requests, answers {codes})")
        p99 = [sorted(xs)[int(len(xs) * 0.99)] for xs in (flood, idle)]
        print(f"ratio p99 flood/idle: {p99[0] / p99[1]:.1f}")

        def big():
            chunk = os.urandom(MB)
            for _ in range(95):
                yield chunk

        try:
            r = httpx.post(f"{gw.url}/as2", content=big(), headers=unknown_headers(), timeout=60)
            print(f"95 MB unknown sender: HTTP {r.status_code}")
        except httpx.TransportError as exc:
            print(f"95 MB unknown sender: connection closed by the server ({type(exc).__name__})")
        print(f"peak RSS after the 95 MB unknown-sender body: {peak_rss_mb(gw.proc.pid):.0f} MB")

        payload = b"ISA" + os.urandom(args.known_mb * MB // 2).hex().encode()[: args.known_mb * MB]
        msg = peer.build(payload, content_type="application/octet-stream")
        size = len(msg.content)
        t0 = time.monotonic()
        r = httpx.post(f"{gw.url}/as2", content=msg.content, headers=dict(msg.headers), timeout=600)
        took = time.monotonic() - t0
        peak = peak_rss_mb(gw.proc.pid)
        print(f"known partner, {size / MB:.0f} MB signed+encrypted: HTTP {r.status_code} in {took:.1f} s; "
              f"peak RSS {peak:.0f} MB ({peak / (size / MB):.1f} x the body)")
    finally:
        gw.stop()


if __name__ == "__main__":
    main()
