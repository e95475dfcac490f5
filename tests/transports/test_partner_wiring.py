"""The partner file drives the remote transports in a running `gateway serve`: an SFTP channel declared in the
partner's YAML is polled on the real OpenSSH server, and its webhook channel answers signed POSTs; both documents
go through the inbound flow and end acked. Secrets come from GATEWAY_SECRET_* variables, never from the file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from gateway.transports.webhook import signed_headers
from tests.support.apikeys import create_key
from tests.support.gateway_home import make_home, wait_for
from tests.support.serve import ServeProcess

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"

pytestmark = [pytest.mark.sftp, pytest.mark.slow]


def _partner_file(home: Path, sshd, sub: str) -> None:  # type: ignore[no-untyped-def]
    path = home / "partners" / "harbor-3pl.yaml"
    text = path.read_text()
    host_key = sshd.host_key_pub.read_text().split()[:2]
    extra = (
        "  - name: sftp-in\n"
        "    type: sftp\n"
        "    direction: inbound\n"
        "    host: 127.0.0.1\n"
        f"    port: {sshd.port}\n"
        f"    username: {sshd.user}\n"
        "    private_key: {secret: HARBOR_SFTP_KEY}\n"
        f"    host_key: {host_key[0]} {host_key[1]}\n"
        f"    inbound_dir: {sub}/out-to-hub\n"
        "    pattern: '*.edi'\n"
        "    min_age_seconds: 0\n"
        "    stable_size: false\n"
        "    poll: 1\n"
        "    timeout_seconds: 5\n"
        f"    legacy_algorithms: {'true' if sshd.legacy else 'false'}\n"
        "  - {name: hook-in, type: webhook, direction: inbound, secret: {secret: HARBOR_HOOK}}\n"
    )
    assert "channels:\n" in text
    path.write_text(text.replace("channels:\n", "channels:\n" + extra, 1))


def test_sftp_and_webhook_channels_from_the_partner_file(tmp_path, sshd_server):
    home = make_home(tmp_path / "home")
    sub = f"wiring{os.getpid()}"
    remote_in = sshd_server.root / sub / "out-to-hub"
    remote_in.mkdir(parents=True)
    _partner_file(home, sshd_server, sub)
    key = create_key(home, name="wiring-tests", role="viewer")
    hook_secret = "hook-secret-value-123"
    env = {
        "GATEWAY_SECRET_HARBOR_SFTP_KEY": sshd_server.client_key.read_text(),
        "GATEWAY_SECRET_HARBOR_HOOK": hook_secret,
    }
    gw = ServeProcess(home, env=env)
    try:
        gw.wait_healthy(timeout=15)
        (remote_in / "asn-sftp.edi").write_bytes(SAMPLE.read_bytes())
        auth = {"X-API-Key": key}

        def acked(name: str):  # type: ignore[no-untyped-def]
            items = httpx.get(f"{gw.url}/api/messages", headers=auth, timeout=5).json()["items"]
            done = [m for m in items if m["file_name"] == name and m["status"] not in ("archived", "processing")]
            return done[0] if done else None

        msg = wait_for(lambda: acked("asn-sftp.edi"), timeout=20)
        assert msg["status"] == "acked", msg
        assert msg["channel"] == "harbor-3pl/sftp-in"
        wait_for(lambda: (remote_in / "processed" / "asn-sftp.edi").is_file() or None, timeout=10)
        assert not (remote_in / "asn-sftp.edi").exists()

        body = SAMPLE.read_bytes()
        headers = signed_headers(hook_secret, body, "delivery-0001", time.time())
        headers["X-Gateway-File-Name"] = "asn-hook.edi"
        r = httpx.post(f"{gw.url}/api/webhooks/harbor-3pl", content=body, headers=headers, timeout=10)
        assert r.status_code in (200, 201, 202), r.text
        bad = dict(headers, **{"X-Gateway-Delivery": "delivery-0002"})
        bad_sig = httpx.post(f"{gw.url}/api/webhooks/harbor-3pl", content=body + b"x", headers=bad, timeout=10)
        assert bad_sig.status_code == 401
        hooked = wait_for(lambda: [m for m in httpx.get(f"{gw.url}/api/messages", headers=auth, timeout=5)
                                   .json()["items"] if m["channel"] == "harbor-3pl/hook-in"] or None, timeout=10)
        assert len(hooked) == 1
        assert hook_secret not in gw.output()
        assert "BEGIN OPENSSH PRIVATE KEY" not in gw.output()
    finally:
        gw.stop()
