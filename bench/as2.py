"""AS2 receiving throughput: messages/s for 1 KB and 1 MB payloads, signed (SHA-256) + AES-256 encrypted, with a
signed synchronous MDN, measured in one run for:

- gateway: ``POST /as2`` served by uvicorn on loopback (a separate process: store, archive, MDN recorded);
- pyas2lib in-process: ``Message.parse`` + signed MDN on the same messages, no HTTP, no store (the crypto ceiling);
- django-pyas2 1.2.3 receiving the same kind of messages (``manage.py runserver`` on loopback, sqlite).

Messages are built beforehand (client-side cost is not measured), each with its own Message-ID, and POSTed one
after another over one keep-alive connection; every MDN is checked to say ``processed``.

usage: .venv/bin/python bench/as2.py [--small-count 200] [--large-count 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import gateway.as2  # noqa: E402, F401 - oscrypto fix before pyas2lib (gateway/as2/compat.py)

# isort: split
import httpx  # noqa: E402
from pyas2lib import as2 as pyas2  # noqa: E402

from tests.as2.django_peer import KEYPASS, PEER_HOME, DjangoPeer  # noqa: E402
from tests.support.sshd import free_port  # noqa: E402

SERVER = r"""
import sys, uvicorn
from datetime import UTC, datetime
from pathlib import Path
from fastapi import FastAPI
sys.path.insert(0, sys.argv[1])
from gateway.api.routes import as2 as route
from gateway.as2.receive import As2Receiver
from gateway.as2.settings import As2OwnSettings, As2PartnerSettings
from gateway.store.archive import Archive
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from gateway.store.repository import Store
certs, tmp, port = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
engine = create_db_engine(f"sqlite:///{tmp / 'gw.db'}"); upgrade(engine)
own = As2OwnSettings(as2_id="GATEWAY", private_key=(certs / "gateway.key").read_bytes(),
                     certificate=(certs / "gateway.crt").read_bytes(), key_password=sys.argv[5])
peer = As2PartnerSettings(as2_id="PEERSERVER", signing_certificates=((certs / "peer.crt").read_bytes(),),
                          encryption_certificate=(certs / "peer.crt").read_bytes())
app = FastAPI(); app.include_router(route.router)
app.state.as2_receiver = As2Receiver(store=Store(engine), archive=Archive(tmp / "archive"), own=own,
                                     partners={"PEERSERVER": peer}.get, clock=lambda: datetime.now(UTC))
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
"""


def identity(certs: Path, me: str, key: str) -> pyas2.Organization:
    pem = (certs / f"{key}.pem").read_bytes()
    return pyas2.Organization(
        as2_name=me, sign_key=pem, sign_key_pass=KEYPASS, decrypt_key=pem, decrypt_key_pass=KEYPASS
    )


def counterpart(certs: Path, name: str, cert: str) -> pyas2.Partner:
    crt = (certs / f"{cert}.crt").read_bytes()
    return pyas2.Partner(
        as2_name=name,
        verify_cert=crt,
        encrypt_cert=crt,
        validate_certs=False,
        sign=True,
        digest_alg="sha256",
        encrypt=True,
        enc_alg="aes_256_cbc",
        mdn_mode="SYNC",
        mdn_digest_alg="sha256",
    )


def build_many(sender: pyas2.Organization, receiver: pyas2.Partner, payload: bytes, n: int) -> list[pyas2.Message]:
    out = []
    for _ in range(n):
        m = pyas2.Message(sender=sender, receiver=receiver)
        m.build(
            payload,
            filename="bench.edi",
            content_type="application/edi-x12",
            disposition_notification_to="bench@example.com",
        )
        out.append(m)
    return out


def post_all(url: str, msgs: list[pyas2.Message]) -> float:
    with httpx.Client(timeout=120) as client:
        t0 = time.perf_counter()
        for m in msgs:
            r = client.post(url, content=m.content, headers=m.headers)
            assert r.status_code == 200 and b"processed" in r.content and b"processed/" not in r.content, r.text[:300]
        return time.perf_counter() - t0


def parse_all(msgs: list[pyas2.Message], org: pyas2.Organization, partner: pyas2.Partner) -> float:
    t0 = time.perf_counter()
    for m in msgs:
        raw = "".join(f"{k}: {v}\r\n" for k, v in m.headers.items()).encode() + b"\r\n" + m.content
        status, _exc, mdn = pyas2.Message().parse(raw, find_org_cb=lambda _i: org, find_partner_cb=lambda _i: partner)
        assert status == "processed" and mdn.content
    return time.perf_counter() - t0


def payload_of(size: int) -> bytes:
    line = b"ISA*00*          *00*          *ZZ*PEERSERVER     *ZZ*GATEWAY        *240101*1200*U*00401*1*0*P*>~\r\n"
    return (line * (size // len(line) + 1))[:size]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small-count", type=int, default=200)
    ap.add_argument("--large-count", type=int, default=10)
    a = ap.parse_args()
    peer = DjangoPeer(PEER_HOME)
    peer.ensure()
    certs = peer.base / "certs"
    tmp = Path(tempfile.mkdtemp(prefix="as2bench-"))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(REPO), str(certs), str(tmp), str(port), KEYPASS])
    peer.start()
    try:
        gw_url = f"http://127.0.0.1:{port}/as2"
        for _ in range(100):
            try:
                httpx.get(gw_url.replace("/as2", "/docs"), timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        peer.configure(gw_url, "SYNC")
        peer_org, gw_org = identity(certs, "PEERSERVER", "peer"), identity(certs, "GATEWAY", "gateway")
        to_gw, to_peer = counterpart(certs, "GATEWAY", "gateway"), counterpart(certs, "PEERSERVER", "peer")
        # the receiving side's view of the sender, for the in-process ceiling
        peer_as_partner = pyas2.Partner(
            as2_name="PEERSERVER",
            verify_cert=(certs / "peer.crt").read_bytes(),
            validate_certs=False,
            sign=True,
            encrypt=True,
        )
        results = []
        for label, size, n in (("1 KB", 1024, a.small_count), ("1 MB", 1024 * 1024, a.large_count)):
            payload = payload_of(size)
            for_gw = build_many(peer_org, to_gw, payload, n)
            for_ceiling = build_many(peer_org, to_gw, payload, n)
            for_peer = build_many(gw_org, to_peer, payload, n)
            post_all(gw_url, build_many(peer_org, to_gw, payload, 3))  # warm up both servers
            post_all(peer.url, build_many(gw_org, to_peer, payload, 3))
            t_gw = post_all(gw_url, for_gw)
            t_ceiling = parse_all(for_ceiling, gw_org, peer_as_partner)
            t_peer = post_all(peer.url, for_peer)
            row = {
                "payload": label,
                "messages": n,
                "gateway_msgs_per_s": round(n / t_gw, 1),
                "pyas2lib_inprocess_msgs_per_s": round(n / t_ceiling, 1),
                "django_pyas2_msgs_per_s": round(n / t_peer, 1),
                "gateway_vs_ceiling": round(t_ceiling / t_gw, 2),
                "gateway_vs_django_pyas2": round(t_peer / t_gw, 2),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
        print(
            f"machine: {os.cpu_count()} CPUs; server: uvicorn (1 process); peer: django runserver; "
            f"client sequential over keep-alive"
        )
    finally:
        peer.stop()
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
