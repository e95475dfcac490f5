"""Issue 12, item 3 for known partners: a ~95 MB signed + encrypted AS2 message from a partner, received by a real
``gateway serve`` process, keeps the server's peak RSS (VmHWM) under 300 MB and ends processed with a signed MDN
whose MIC is the sender's. The message is built by the openssl command line (streaming, BER indefinite lengths),
an implementation independent of ours. Loopback only; bounded in time.
"""

from __future__ import annotations

import shutil

import pytest

from tests.support.as2_home import as2_home
from tests.support.as2_large import MB, mdn_mic, peak_rss_mb, post_body, signed_and_encrypted
from tests.support.serve import ServeProcess

BODY_MB = 95


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
        r, took = post_body(gw.url, body, timeout=120)
        assert r.status_code == 200, r.text
        assert b"processed" in r.content and b"Error" not in r.content, r.content[:2000]
        assert mdn_mic(r.content) == mic
        peak = peak_rss_mb(gw.proc.pid)
        assert peak < 300, f"peak RSS {peak:.0f} MB for a {size / MB:.0f} MB body (took {took:.0f} s)"
        assert took < 60
    finally:
        gw.stop()
