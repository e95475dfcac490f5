"""kill -9 in the streaming AS2 receive (fail point ``as2.after_stream_parse``: the body archived, decrypted and
verified in spool files, nothing else recorded): the restart removes the spool files the dead process left, and
the partner's retry of the same Message-ID is processed once, with a positive MDN. Real ``gateway serve``."""

from __future__ import annotations

import time

import httpx

from tests.as2 import peer
from tests.support.as2_home import as2_home
from tests.support.serve import ServeProcess


def test_kill_9_in_the_streaming_parse_then_retry_is_processed_once(tmp_path):
    home = as2_home(tmp_path)
    payload = b"ISA" + b"0123456789abcdef" * (160 * 1024)  # ~2.5 MB: over the streaming threshold
    msg = peer.build(payload, content_type="application/octet-stream")
    headers, body = dict(msg.headers), msg.content
    spool = home / "var" / "spool"
    first = ServeProcess(home, env={"GATEWAY_FAILPOINTS": "as2.after_stream_parse=kill"})
    try:
        first.wait_healthy(timeout=60)
        try:
            httpx.post(f"{first.url}/as2", content=body, headers=headers, timeout=60)
            raise AssertionError("the fail point did not kill the server")
        except httpx.TransportError:
            pass
        assert first.wait_exit(timeout=15) == -9
    finally:
        first.stop()
    left = [p.name for p in spool.iterdir()]
    assert left, "the killed request left no spool files: the fail point is not inside the streaming parse"
    second = ServeProcess(home)
    try:
        second.wait_healthy(timeout=60)
        assert not any(p.name in left for p in spool.iterdir()), "spool files of the dead process remain"
        deadline = time.monotonic() + 30
        while True:  # the retry (RFC 4130 sec. 5.5: same Message-ID) until the original is no longer in progress
            r = httpx.post(f"{second.url}/as2", content=body, headers=headers, timeout=60)
            if r.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert r.status_code == 200, r.text
        status, detail = peer.parse_mdn(msg, dict(r.headers), r.content)
        assert (status, detail) == ("processed", None)
        again = httpx.post(f"{second.url}/as2", content=body, headers=headers, timeout=60)
        assert again.status_code == 200 and again.content == r.content  # a duplicate: the same MDN, not run twice
        assert list(spool.iterdir()) == []
    finally:
        second.stop()
