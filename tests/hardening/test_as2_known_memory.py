"""Issue 12, item 3 for known partners: a ~95 MB signed + encrypted AS2 message from a partner, received by a real
``gateway serve`` process, keeps the server's peak RSS (VmHWM) under 300 MB and ends processed with a signed MDN
whose MIC is the sender's. The message is built by the openssl command line (streaming, BER indefinite lengths),
an implementation independent of ours. Loopback only; bounded in time.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.as2.support import keypair
from tests.support.as2_home import as2_home
from tests.support.serve import ServeProcess

MB = 1024 * 1024
BODY_MB = 95


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def openssl(*args: str, cwd: Path) -> None:
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")


def signed_and_encrypted(tmp: Path, payload_mb: int) -> tuple[Path, bytes]:
    """(the enveloped body's file, the MIC the sender computed: sha256 of the signed entity's exact bytes)."""
    for name in ("PARTNER", "GATEWAY"):
        (tmp / f"{name}.key").write_bytes(keypair(name).private_key)
        (tmp / f"{name}.crt").write_bytes(keypair(name).certificate)
    entity = tmp / "entity.txt"
    mic = hashlib.sha256()
    with open(entity, "wb") as fp:
        head = b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.dat\r\n\r\n"
        fp.write(head)
        mic.update(head)
        chunk = b"ISA" + os.urandom(MB // 2 - 2).hex().encode()[: MB - 3]  # text, not an interchange
        for _ in range(payload_mb):
            fp.write(chunk)
            mic.update(chunk)
    openssl("cms", "-sign", "-binary", "-stream", "-in", "entity.txt", "-signer", "PARTNER.crt", "-inkey",
            "PARTNER.key", "-md", "sha256", "-out", "signed.eml", cwd=tmp)
    openssl("cms", "-encrypt", "-binary", "-stream", "-aes256", "-in", "signed.eml", "-outform", "DER", "-out",
            "enc.der", "GATEWAY.crt", cwd=tmp)
    entity.unlink()
    (tmp / "signed.eml").unlink()
    return tmp / "enc.der", base64.b64encode(mic.digest())


def test_95_mb_signed_and_encrypted_body_from_a_known_partner_with_bounded_memory(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command line is not installed")
    body, mic = signed_and_encrypted(tmp_path, BODY_MB - 1)
    size = body.stat().st_size
    assert 90 * MB < size < 100 * MB
    home = as2_home(tmp_path / "home")
    gw = ServeProcess(home)
    try:
        gw.wait_healthy(timeout=60)
        headers = {
            "AS2-Version": "1.2",
            "AS2-From": "PARTNER",
            "AS2-To": "GATEWAY",
            "Message-ID": f"<{uuid.uuid4()}@partner.example>",
            "Content-Type": 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
            "Content-Transfer-Encoding": "binary",
            "Disposition-Notification-To": "as2@partner.example",
            "Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; "
            "signed-receipt-micalg=optional, sha256",
        }

        def stream():
            with open(body, "rb") as fp:
                while data := fp.read(MB):
                    yield data

        t0 = time.monotonic()
        r = httpx.post(f"{gw.url}/as2", content=stream(), headers={**headers, "Content-Length": str(size)},
                       timeout=120)
        took = time.monotonic() - t0
        assert r.status_code == 200, r.text
        assert b"processed" in r.content and b"Error" not in r.content, r.content[:2000]
        found = re.search(rb"Received-content-MIC:\s*([^,\r\n]+),\s*sha256", r.content, re.I)
        assert found and found.group(1) == mic
        peak = peak_rss_mb(gw.proc.pid)
        assert peak < 300, f"peak RSS {peak:.0f} MB for a {size / MB:.0f} MB body (took {took:.0f} s)"
        assert took < 60
    finally:
        gw.stop()
