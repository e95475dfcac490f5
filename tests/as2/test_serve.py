"""``gateway serve`` as a user runs it, AS2 configured in config/gateway.yaml and on a shipped partner: a real
process answers POST /as2 with a signed MDN, without an API key, and the X12 flow acknowledges the payload."""

from __future__ import annotations

import sqlite3
import time

from tests.as2 import peer
from tests.as2.support import post
from tests.support.as2_home import as2_home
from tests.support.gateway_home import REPO
from tests.support.serve import ServeProcess


def test_gateway_serve_receives_as2_with_signed_mdn(tmp_path):
    home = as2_home(tmp_path)  # the shipped partners; harbor-3pl gets an AS2 channel, we get an AS2 identity
    sample = REPO / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    gw = ServeProcess(home)
    try:
        gw.wait_healthy(timeout=20)
        msg = peer.build(sample.read_bytes(), content_type="application/octet-stream")
        r = post(f"{gw.url}/as2", msg.headers, msg.content)
        assert r.status_code == 200, r.text
        assert peer.parse_mdn(msg, dict(r.headers), r.content) == ("processed", None)
        db = sqlite3.connect(home / "var" / "gateway.db")
        try:
            deadline = time.monotonic() + 10
            rows = []
            while time.monotonic() < deadline:
                rows = db.execute("SELECT idempotency_key, status FROM message WHERE direction='inbound'").fetchall()
                if len(rows) == 2:
                    break
                time.sleep(0.2)
        finally:
            db.close()
        statuses = {key.split(":")[0]: status for key, status in rows}
        assert statuses == {"as2": "processed", "as2-payload": "acked"}, (rows, gw.output())
    finally:
        gw.stop()
