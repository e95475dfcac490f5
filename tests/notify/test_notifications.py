"""Notifications end to end: a real SMTP server (aiosmtpd) and a real HTTP webhook receiver; an expiring
certificate in a partner file gives ONE webhook call and ONE email however often the check runs, also after a
restart; a quarantined file is announced; the rate limit holds the excess back and sends one digest."""

from __future__ import annotations

import email
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request

from gateway.notify.notifier import Notifier
from gateway.notify.settings import NotificationSettings
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from tests.partners.keys import write_certificate
from tests.partners.test_health import AS2CO
from tests.support.gateway_home import drop, make_home, wait_for
from tests.support.http_server import serving
from tests.support.sshd import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def hook():
    received: list[dict] = []
    status = {"code": 200}
    lock = threading.Lock()
    app = FastAPI()

    @app.post("/hook")
    async def receive(request: Request):
        from fastapi.responses import JSONResponse

        with lock:
            received.append(await request.json())
        return JSONResponse({"ok": True}, status_code=status["code"])

    with serving(app) as url:
        yield f"{url}/hook", received, status


def settings_for(home, smtp_port, hook_url, fmt="json", database_url=None):
    notifications = {
        "webhook": {"url": hook_url, "format": fmt},
        "email": {"host": "127.0.0.1", "port": smtp_port, "sender": "gateway@example.test", "to": ["ops@example.test"]},
        "certificate_check_minutes": 0.005,  # every 0.3 s: "one notification, not one per check"
    }
    extra = {"database_url": database_url} if database_url else {}
    return load_settings(
        home / "config" / "gateway.yaml", notifications=notifications,
        folder={"min_age_seconds": 0.1, "sweep_seconds": 0.5}, **extra,
    )  # fmt: skip


def test_expiring_certificate_gives_one_webhook_call_and_one_email(tmp_path, smtp, hook, repo_root):
    controller, inbox = smtp
    url, received, _status = hook
    home = make_home(tmp_path)
    write_certificate(home / "partners" / "as2co" / "cert.pem", days_valid=12)
    (home / "partners" / "as2co.yaml").write_text(AS2CO)
    settings = settings_for(home, controller.port, url)
    for _run in range(2):  # the second run is a restart: still nothing new
        gw = Gateway(settings)
        gw.start()
        try:
            wait_for(lambda: received and inbox.messages, timeout=10)
            time.sleep(2.0)  # ~6 more checks
            gw.notifier.drain()
        finally:
            gw.stop()
        certs = [b for b in received if b["kind"] == "certificate_expiry"]
        assert len(certs) == 1, received
        assert len(inbox.messages) == 1
    body = certs[0]
    assert body["severity"] == "warning" and body["fields"]["owner"] == "as2co"
    assert "expires on" in body["text"] and body["gateway"] == settings.identity.name
    mail = inbox.messages[0]
    assert mail["To"] == "ops@example.test" and "Certificate of partner as2co" in mail["Subject"]
    assert "expires on" in mail.get_payload()

    # a quarantined file is announced once, with what to do
    gw = Gateway(settings)
    gw.start()
    try:
        raw = (repo_root / "samples/x12/856/harbor-3pl-crossdock.edi").read_bytes()
        src = tmp_path / "stranger.edi"
        src.write_bytes(raw.replace(b"ZZ*SENDER         *", b"ZZ*NOBODYWEKNOW  *").replace(b"*SENDER*", b"*NOBODY*"))
        drop(src, gw.settings.data_path / "channels" / "harbor-3pl" / "inbound")
        wait_for(lambda: [b for b in received if b["kind"] == "quarantine"], timeout=15)
        gw.notifier.drain()
    finally:
        gw.stop()
    q = [b for b in received if b["kind"] == "quarantine"]
    assert len(q) == 1 and "reprocess" in q[0]["text"] and q[0]["fields"]["file"] == "stranger.edi"
    assert len(inbox.messages) == 2


def test_slack_format_and_rate_limit_digest(tmp_path, hook):
    url, received, status = hook
    engine = create_db_engine(f"sqlite:///{tmp_path / 'g.db'}")
    upgrade(engine)
    now = [1000.0]
    n = Notifier(
        NotificationSettings(webhook={"url": url, "format": "slack"}, max_per_hour=2),
        engine, gateway_name="hub", clock=lambda: now[0], sleep=lambda _s: None, tick=0.1,
    )  # fmt: skip
    n.start()
    try:
        for i in range(5):
            n.notify("sla_breach", key=f"order-{i}", subject=f"Order {i} late", text="shipped late", severity="error")
        n.notify("sla_breach", key="order-0", subject="Order 0 late", text="again")  # a repeat: deduplicated
        n.drain()
        assert len(received) == 2
        assert received[0]["text"].startswith(":rotating_light: *Order 0 late*") and received[0]["blocks"]
        now[0] += 3601  # an hour later the held notices go out as one digest
        wait_for(lambda: len(received) == 3, timeout=5)
        assert "3 more notifications" in received[2]["text"] and "Order 4 late" in received[2]["text"]
        assert n.suppressed == 1
        # a webhook that fails: retried, then released so the next occurrence tries again
        status["code"] = 500
        n.notify("dead_delivery", key="m-9", subject="dead", text="x")
        n.drain()
        assert len(received) == 7  # 1 try + 3 retries
        status["code"] = 200
        n.notify("dead_delivery", key="m-9", subject="dead", text="x")
        n.drain()
        assert len(received) == 8
    finally:
        n.stop()
        engine.dispose()


def test_a_partner_rejecting_our_document_is_announced_once(tmp_path, smtp, hook):
    controller, inbox = smtp
    url, received, _status = hook
    home = make_home(tmp_path)
    gw = Gateway(settings_for(home, controller.port, url))
    gw.start()
    try:
        ours, _ = gw.store.create_message(
            events=[("message.sent", "sent", None)], direction="outbound", status="sent", partner_id="harbor-3pl",
            set_ids="940", file_name="harbor-3pl-940-000000007.x12", sha256="0" * 64,
        )  # fmt: skip
        theirs, _ = gw.store.create_message(
            events=[("message.received", "received", None)], direction="inbound", status="processed",
            partner_id="harbor-3pl", set_ids="997", file_name="ack.edi", sha256="1" * 64,
        )  # fmt: skip
        accepted, _ = gw.store.create_message(
            events=[("message.sent", "sent", None)], direction="outbound", status="sent", partner_id="harbor-3pl",
            set_ids="940", sha256="2" * 64,
        )  # fmt: skip
        gw.store.link_ack(message_id=accepted.id, ack_message_id=theirs.id, kind="997", result="A")
        gw.store.link_ack(message_id=ours.id, ack_message_id=theirs.id, kind="997", result="R")
        gw.store.link_ack(message_id=ours.id, ack_message_id=theirs.id, kind="997", result="R")  # idempotent
        wait_for(lambda: [b for b in received if b["kind"] == "ack_rejected"], timeout=10)
        time.sleep(0.5)
        gw.notifier.drain()
    finally:
        gw.stop()
    rejected = [b for b in received if b["kind"] == "ack_rejected"]
    assert len(rejected) == 1, received
    assert rejected[0]["fields"] == {"message_id": ours.id, "partner": "harbor-3pl", "ack": "997", "result": "R"}
    assert f"/ui/messages/{ours.id}" in rejected[0]["text"] and "harbor-3pl-940-000000007.x12" in rejected[0]["text"]
    assert len(inbox.messages) == 1
