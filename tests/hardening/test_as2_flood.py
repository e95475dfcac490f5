"""``POST /as2`` under attack, against a real ``gateway serve`` process (issue 12, acceptance):

* 60 requests from an unknown AS2-From, each asking for an async MDN to a local listener: the listener receives
  nothing, ``/api/health`` answers within 1 s throughout (probed from a process of its own: ``health_watch.py``),
  and SIGTERM stops the process within 10 s;
* a 95 MB body from an unknown sender is refused early, and the server's peak RSS stays under 300 MB.

Loopback only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.hardening.listener import listener
from tests.support.as2_home import as2_home
from tests.support.as2_large import MB, peak_rss_mb
from tests.support.serve import ServeProcess

WATCHER = Path(__file__).with_name("health_watch.py")


def _unknown_sender_headers(mdn_url: str) -> dict[str, str]:
    return {
        "AS2-From": "INTRUDER",
        "AS2-To": "GATEWAY",
        "AS2-Version": "1.2",
        "Message-ID": f"<{uuid.uuid4()}@intruder.example>",
        "Disposition-Notification-To": "x@intruder.example",
        "Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; "
        "signed-receipt-micalg=optional, sha256",
        "Receipt-Delivery-Option": mdn_url,
        "Content-Type": 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
    }


@pytest.fixture
def home(tmp_path):
    return as2_home(tmp_path)


Probe = tuple[float, float, int | str]  # (time.monotonic() at the start, seconds taken, status): health_watch.py


def _watch_health(url: str) -> tuple[subprocess.Popen[str], Probe]:
    """The ``/api/health`` watcher, in a process of its own (``health_watch.py`` says why), and its first probe."""
    watcher = subprocess.Popen(
        [sys.executable, str(WATCHER), f"{url}/api/health"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert watcher.stdout is not None
    first = watcher.stdout.readline()  # blocks until the first probe is answered (or the watcher dies)
    assert first, "the health watcher exited before its first probe"
    return watcher, tuple(json.loads(first))  # type: ignore[return-value]


def _stop_watching(watcher: subprocess.Popen[str]) -> list[Probe]:
    """The watcher's probes after its first; it stops after its current probe."""
    out, _ = watcher.communicate(timeout=30)  # closes stdin
    assert watcher.returncode == 0, out
    return [tuple(json.loads(line)) for line in out.splitlines()]  # type: ignore[misc]


def test_flood_of_unknown_senders_asking_async_mdns(home):
    with listener() as (target, received):
        gw = ServeProcess(home)
        try:
            gw.wait_healthy(timeout=60)
            watcher, first = _watch_health(gw.url)
            flood_start = time.monotonic()
            limits = httpx.Limits(max_connections=60, max_keepalive_connections=0)
            with httpx.Client(timeout=30, limits=limits) as attacker:

                def attack(i: int) -> int:
                    body = os.urandom(8 * 1024)
                    headers = _unknown_sender_headers(f"{target}/internal/admin?n={i}")
                    return attacker.post(f"{gw.url}/as2", content=body, headers=headers).status_code

                with ThreadPoolExecutor(max_workers=60) as pool:
                    codes = list(pool.map(attack, range(60)))
            flood_end = time.monotonic()
            time.sleep(6.5)  # longer than the async-MDN sweep: nothing may go out later either
            probes = [first, *_stop_watching(watcher)]
            assert all(c in (200, 429) for c in codes), codes
            assert 429 in codes  # the unknown-sender rate limit (burst 10) answered the rest
            assert received == []  # no request was forged on the attacker's behalf
            # (seconds after the flood started, seconds taken, status) of each answer over the bound or not 200
            slow = [(round(start - flood_start, 2), round(took, 3), status)
                    for start, took, status in probes if status != 200 or took >= 1.0]  # fmt: skip
            assert slow == [], f"/api/health slow or failing {len(slow)} times: {slow[:5]}"
            # the watcher saw the server throughout: during the flood and until the sweep was over
            assert any(start < flood_end and start + took > flood_start for start, took, _ in probes), probes
            assert probes[0][0] < flood_start and probes[-1][0] > flood_end + 6, (flood_start, flood_end, probes)
            t0 = time.monotonic()
            gw.proc.terminate()  # SIGTERM
            gw.proc.wait(timeout=15)
            assert time.monotonic() - t0 < 10
        finally:
            gw.stop()


def test_95_mb_body_from_an_unknown_sender_is_refused_early_with_bounded_memory(home):
    gw = ServeProcess(home)
    try:
        gw.wait_healthy(timeout=60)
        chunk = os.urandom(MB)

        def body():
            for _ in range(95):
                yield chunk

        headers = _unknown_sender_headers("http://127.0.0.1:9/none")
        t0 = time.monotonic()
        try:  # chunked: no Content-Length to refuse by, so it is cut off while streaming
            r = httpx.post(f"{gw.url}/as2", content=body(), headers=headers, timeout=60)
            assert r.status_code == 413, r.text
        except httpx.TransportError:
            pass  # the server answered 413 and closed while the client was still sending: refused early too
        try:  # declared: refused before a byte of the body is read
            declared = {**headers, "Content-Length": str(95 * MB), "Message-ID": f"<{uuid.uuid4()}@x>"}
            r = httpx.post(f"{gw.url}/as2", content=b"".join(body()), headers=declared, timeout=60)
            assert r.status_code == 413, r.text
        except httpx.TransportError:
            pass
        assert time.monotonic() - t0 < 30
        assert httpx.get(f"{gw.url}/api/health", timeout=2).status_code == 200
        peak = peak_rss_mb(gw.proc.pid)
        assert peak < 300, f"peak RSS {peak:.0f} MB"
        archive = home / "var" / "archive"
        stored = sum(p.stat().st_size for p in archive.rglob("*") if p.is_file())
        assert stored < 1 * MB, f"{stored} bytes archived for refused requests"
    finally:
        gw.stop()
