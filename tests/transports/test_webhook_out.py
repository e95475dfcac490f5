"""Webhooks out: httpx against a real uvicorn receiver on loopback that checks signatures like a partner does."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import replace

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.errors import AuthenticationError, PermanentTransportError, SecurityError, TransientTransportError
from gateway.transports.webhook import DELIVERY, FILE_NAME, WebhookSender, WebhookSettings, verify
from tests.support.http_server import serving
from tests.support.sshd import free_port
from tests.transports.contract import Harness, OutboundContract

SECRET = "partner-shared-secret"


class Receiver:
    """The partner's endpoint: answers from a script of statuses (then 200), records accepted deliveries."""

    def __init__(self) -> None:
        self.script: list[int | str] = []
        self.requests: list[dict] = []
        self.accepted: dict[str, bytes] = {}
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> JSONResponse:
            body = await request.body()
            self.requests.append({"headers": dict(request.headers), "body": body, "at": time.monotonic()})
            step = self.script.pop(0) if self.script else 200
            if step == "slow":
                await asyncio.sleep(1.5)
                step = 200
            try:
                verify(SECRET, body, request.headers, now=time.time(), tolerance=300)
            except SecurityError as exc:
                return JSONResponse(status_code=401, content={"error": str(exc)})
            if step == 200:
                self.accepted[request.headers[FILE_NAME.lower()]] = body
            headers = {"Retry-After": "0"} if step == 429 else {}
            return JSONResponse(status_code=int(step), content={}, headers=headers)


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    with serving(r.app, lifespan="off") as base:
        r.url = f"{base}/hook"
        yield r


@pytest.fixture
def rx(receiver):
    receiver.script.clear()
    receiver.requests.clear()
    receiver.accepted.clear()
    return receiver


def sender(rx: Receiver, **over) -> WebhookSender:
    s = WebhookSettings(secret=SECRET, url=rx.url, timeout_seconds=5, attempts=4, backoff_seconds=0.05)
    return WebhookSender(replace(s, **over), channel="p/webhook")


class WebhookHarness(Harness):
    def __init__(self, rx: Receiver) -> None:
        self.rx = rx

    def inbound(self, **_):
        pytest.skip("webhooks are pushed to us: tests/transports/test_webhook_in.py covers receiving")

    def outbound(self, *, unreachable=False, bad_credentials=False):
        over: dict = {}
        if unreachable:
            over["url"] = f"http://127.0.0.1:{free_port()}/hook"
        if bad_credentials:
            over["secret"] = "not-the-shared-secret"
        return sender(self.rx, attempts=2, **over)

    def drop(self, name, data, *, complete=True): ...

    def inbox(self):
        return set()

    def processed(self):
        return {}

    def failed(self):
        return set()

    def outbox(self):
        return dict(self.rx.accepted)


class TestWebhookOutbound(OutboundContract):
    @pytest.fixture
    def harness(self, rx):
        return WebhookHarness(rx)


def test_retries_5xx_and_429_with_backoff_and_one_delivery_id(rx):
    rx.script = [503, 429, 502]
    receipt = sender(rx, backoff_seconds=0.2).send("a.x12", io.BytesIO(b"ISA~"))
    assert receipt.detail["attempts"] == 4
    ids = {r["headers"][DELIVERY.lower()] for r in rx.requests}
    assert len(rx.requests) == 4 and len(ids) == 1 and receipt.detail["delivery_id"] in ids
    gaps = [b["at"] - a["at"] for a, b in zip(rx.requests, rx.requests[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8  # exponential: 0.2, 0.4, 0.8 s
    assert rx.accepted == {"a.x12": b"ISA~"}


def test_other_4xx_is_permanent_and_not_retried(rx):
    rx.script = [422]
    with pytest.raises(PermanentTransportError, match="HTTP 422"):
        sender(rx).send("a.x12", io.BytesIO(b"ISA~"))
    assert len(rx.requests) == 1


def test_wrong_secret_is_an_authentication_error(rx):
    with pytest.raises(AuthenticationError):
        sender(rx, secret="wrong").send("a.x12", io.BytesIO(b"ISA~"))
    assert len(rx.requests) == 1


def test_exhausted_retries_are_transient(rx):
    rx.script = [500] * 4
    with pytest.raises(TransientTransportError, match="4 attempts failed, the last with HTTP 500"):
        sender(rx).send("a.x12", io.BytesIO(b"ISA~"))
    assert len(rx.requests) == 4 and rx.accepted == {}


def test_a_timeout_is_retried(rx):
    rx.script = ["slow"]
    receipt = sender(rx, timeout_seconds=0.5).send("a.x12", io.BytesIO(b"ISA~"))
    assert receipt.detail["attempts"] == 2
    assert len({r["headers"][DELIVERY.lower()] for r in rx.requests}) == 1


def test_the_same_document_keeps_its_delivery_id_and_an_explicit_one_wins(rx):
    s = sender(rx)
    a = s.send("a.x12", io.BytesIO(b"ISA~1")).detail["delivery_id"]
    b = s.send("a.x12", io.BytesIO(b"ISA~1")).detail["delivery_id"]
    c = s.send("a.x12", io.BytesIO(b"ISA~2")).detail["delivery_id"]
    d = s.send("a.x12", io.BytesIO(b"ISA~2"), delivery_id="msg-42").detail["delivery_id"]
    assert a == b != c and d == "msg-42"
