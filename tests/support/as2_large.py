"""A large signed + encrypted AS2 message from the known partner of :func:`tests.support.as2_home.as2_home`, built by
the openssl command line (``cms -sign -stream`` then ``cms -encrypt -stream -aes256``: BER indefinite lengths, as
streaming senders write it, an implementation independent of ours), and how it is posted and measured. Shared by
tests/hardening/test_as2_known_memory.py and bench/as2_receive_memory.py."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.as2.support import keypair

MB = 1024 * 1024


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def payload_chunk() -> bytes:
    """One MB of random text starting ``ISA`` (not an interchange: the gateway archives it, nothing to map)."""
    return b"ISA" + os.urandom(MB // 2 - 2).hex().encode()[: MB - 3]


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
        chunk = payload_chunk()
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


def post_body(url: str, body: Path, *, timeout: float, headers: dict[str, str] | None = None) -> tuple[
        httpx.Response, float]:
    """POST the body file to ``{url}/as2`` in 1 MB pieces, as the partner asking for a signed synchronous MDN
    (``headers`` override or add, e.g. pyas2lib's own); the answer and the seconds it took."""
    def stream() -> Iterator[bytes]:
        with open(body, "rb") as fp:
            while data := fp.read(MB):
                yield data

    sent = {
        "AS2-Version": "1.2",
        "AS2-From": "PARTNER",
        "AS2-To": "GATEWAY",
        "Message-ID": f"<{uuid.uuid4()}@partner.example>",
        "Content-Type": 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
        "Content-Transfer-Encoding": "binary",
        "Disposition-Notification-To": "as2@partner.example",
        "Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; "
        "signed-receipt-micalg=optional, sha256",
        **(headers or {}),
        "Content-Length": str(body.stat().st_size),
    }
    t0 = time.monotonic()
    r = httpx.post(f"{url}/as2", content=stream(), headers=sent, timeout=timeout)
    return r, time.monotonic() - t0


def mdn_mic(content: bytes) -> bytes | None:
    """The ``Received-content-MIC`` value of a sha256 MDN (None: not there)."""
    found = re.search(rb"Received-content-MIC:\s*([^,\r\n]+),\s*sha256", content, re.I)
    return found.group(1) if found else None
