"""Peak memory of ``gateway serve`` receiving large signed + encrypted AS2 messages from a known partner.

For each body size, a fresh ``gateway serve`` (a real process, loopback) receives one message built by the openssl
command line (``cms -sign -stream`` then ``cms -encrypt -stream -aes256``: BER, as streaming senders write it) or,
with ``--builder pyas2lib``, by pyas2lib (DER, AES-256, SHA-256: what django-pyas2 sends). Printed: its peak RSS
(VmHWM) right after start (the reference, same run), after the message, the ratio of the two, the time to the
MDN, and whether the MDN says ``processed`` with the sender's MIC.

usage: .venv/bin/python bench/as2_receive_memory.py [--sizes 20 95] [--builder openssl|pyas2lib]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.as2_home import as2_home  # noqa: E402
from tests.support.as2_large import (  # noqa: E402
    MB,
    mdn_mic,
    payload_chunk,
    peak_rss_mb,
    post_body,
    signed_and_encrypted,
)
from tests.support.serve import ServeProcess  # noqa: E402


def pyas2lib_message(tmp: Path, size_mb: int) -> tuple[Path, bytes, dict[str, str]]:
    from tests.as2 import peer

    payload = b"".join(payload_chunk() for _ in range(size_mb))
    msg = peer.build(payload, content_type="application/octet-stream")
    body = tmp / "body.bin"
    body.write_bytes(msg.content)
    return body, msg.mic, dict(msg.headers)


def one(size_mb: int, builder: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="as2-mem-"))
    extra: dict[str, str] = {}
    if builder == "pyas2lib":
        body, mic, extra = pyas2lib_message(tmp, size_mb)
    else:
        body, mic = signed_and_encrypted(tmp, size_mb)
    size = body.stat().st_size
    gw = ServeProcess(as2_home(tmp / "home"))
    try:
        gw.wait_healthy(timeout=60)
        start = peak_rss_mb(gw.proc.pid)
        r, took = post_body(gw.url, body, timeout=900, headers=extra)
        peak = peak_rss_mb(gw.proc.pid)
        ok = b"processed" in r.content and b"Error" not in r.content and mdn_mic(r.content) == mic
        print(
            f"{builder}, {size / MB:5.1f} MB body: HTTP {r.status_code} in {took:5.1f} s, MDN processed+MIC ok: {ok}; "
            f"peak RSS after start {start:.0f} MB, after the message {peak:.0f} MB "
            f"(x{peak / start:.2f} the start; {peak / (size / MB):.2f} MB per body MB)"
        )
    finally:
        gw.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 95])
    ap.add_argument("--builder", choices=["openssl", "pyas2lib"], default="openssl")
    args = ap.parse_args()
    for mb in args.sizes:
        print(f"load: {os.getloadavg()[0]:.1f} (1 min), 2 cores")
        one(mb, args.builder)


if __name__ == "__main__":
    main()
