"""One contract suite every push destination passes (folder, webhook, RabbitMQ), against real receivers: publish
returns a receipt once the event is durable there, the event id travels where consumers look, a receiver that is
down is a transient error, a refusal that retrying cannot fix is permanent."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response

from gateway.errors import PermanentTransportError, TransientTransportError
from gateway.handoff.config import FolderDestination, RabbitMQDestination, WebhookDestination
from gateway.handoff.destinations import OutgoingEvent, open_destination
from gateway.handoff.events import verify
from tests.handoff.conftest import REPO
from tests.support import rabbitmq
from tests.support.http_server import serving
from tests.support.services import unavailable
from tests.support.sshd import free_port

RECORD = json.loads((REPO / "samples/x12/940/acme-retail-new-order.canonical.json").read_text())["documents"][0]


def event(n: int = 1) -> OutgoingEvent:
    body = {"event_id": f"7-{n}", "type": "order.received", "partner": "acme-retail", "message_id": 7,
            "position": n, "set": "940", "record_type": "order", "business_keys": [], "record": RECORD}
    return OutgoingEvent(f"7-{n}", "order.received", "acme-retail", "order", "940", json.dumps(body).encode())


class Contract:
    """Subclasses provide ``destination`` (working), ``received()`` (event ids that arrived), ``broken``."""

    def test_publish_delivers_with_the_event_id(self, destination, received):
        receipts = [destination.publish(event(n)) for n in (1, 2, 3)]
        assert all(r.detail for r in receipts)
        assert received() == ["7-1", "7-2", "7-3"]
        destination.close()
        destination.publish(event(4))  # reopens after close
        assert received()[-1] == "7-4"

    def test_a_receiver_that_is_down_is_transient(self, broken):
        with pytest.raises(TransientTransportError):
            broken.publish(event())


class TestFolder(Contract):
    @pytest.fixture
    def destination(self, tmp_path):
        return open_destination(FolderDestination(name="drop", type="folder", path=Path("out"), format="json"),
                                data_dir=tmp_path, secrets_dir=None)

    @pytest.fixture
    def received(self, tmp_path):
        def ids():
            return [p.stem for p in sorted((tmp_path / "out").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)]
        return ids

    @pytest.fixture
    def broken(self, tmp_path):
        (tmp_path / "file").write_text("not a folder")
        return open_destination(FolderDestination(name="drop", type="folder", path=tmp_path / "file" / "sub"),
                                data_dir=tmp_path, secrets_dir=None)

    @pytest.mark.parametrize("fmt", ["csv", "xml"])
    def test_record_formats(self, tmp_path, fmt):
        pub = open_destination(FolderDestination(name="d", type="folder", path=Path("o"), format=fmt),
                               data_dir=tmp_path, secrets_dir=None)
        pub.publish(event())
        text = (tmp_path / "o" / f"7-1.{fmt}").read_text()
        assert "18061923" in text and not list((tmp_path / "o").glob(".*"))  # no temporary file left


class Hook:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.status = 204
        self.lock = threading.Lock()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/in")
        async def receive(request: Request) -> Response:
            body = await request.body()
            import time

            event_id = verify("k3y", body, dict(request.headers), now=time.time())
            with self.lock:
                if self.status < 300:
                    self.ids.append(event_id)
            return Response(status_code=self.status)

        return app


class TestWebhook(Contract):
    @pytest.fixture
    def hook(self, monkeypatch):
        monkeypatch.setenv("GATEWAY_SECRET_HOOK_KEY", "k3y")
        h = Hook()
        with serving(h.app()) as url:
            h.url = url  # type: ignore[attr-defined]
            yield h

    def make(self, url: str):
        return open_destination(WebhookDestination(name="hook", type="webhook", url=url, timeout="2s",
                                                   secret={"secret": "HOOK_KEY"}), data_dir=Path("."), secrets_dir=None)

    @pytest.fixture
    def destination(self, hook):
        pub = self.make(f"{hook.url}/in")
        yield pub
        pub.close()

    @pytest.fixture
    def received(self, hook):
        return lambda: list(hook.ids)

    @pytest.fixture
    def broken(self, monkeypatch):
        monkeypatch.setenv("GATEWAY_SECRET_HOOK_KEY", "k3y")
        pub = self.make(f"http://127.0.0.1:{free_port()}/in")
        yield pub
        pub.close()

    def test_4xx_is_permanent_and_5xx_transient(self, hook, destination):
        hook.status = 422
        with pytest.raises(PermanentTransportError):
            destination.publish(event())
        hook.status = 503
        with pytest.raises(TransientTransportError):
            destination.publish(event())


class TestRabbitMQ(Contract):
    @pytest.fixture
    def broker(self):
        reason = rabbitmq.reachable()
        if reason:
            unavailable(reason)
        with rabbitmq.scratch() as s:
            yield s

    @pytest.fixture
    def destination(self, broker):
        pub = open_destination(RabbitMQDestination(name="bus", type="rabbitmq", exchange=broker.exchange),
                               data_dir=Path("."), secrets_dir=None)
        yield pub
        pub.close()

    @pytest.fixture
    def received(self, broker):
        seen: list[str] = []

        def ids():
            seen.extend(p.message_id for p, _ in broker.drain(timeout=0.5))
            return list(seen)
        return ids

    @pytest.fixture
    def broken(self):
        pub = open_destination(RabbitMQDestination(name="bus", type="rabbitmq", port=free_port(), timeout="2s"),
                               data_dir=Path("."), secrets_dir=None)
        yield pub
        pub.close()

    def test_routing_key_defaults_to_partner_and_record_type(self, broker):
        pub = open_destination(RabbitMQDestination(name="bus", type="rabbitmq", exchange=broker.exchange),
                               data_dir=Path("."), secrets_dir=None)
        assert pub.publish(event()).detail["routing_key"] == "acme-retail.order"
        pub.close()

    def test_unroutable_is_never_delivered(self, broker):
        pub = open_destination(
            RabbitMQDestination(name="bus", type="rabbitmq", exchange=broker.exchange, routing_key="x",
                                declare_exchange=False, exchange_type="topic"),
            data_dir=Path("."), secrets_dir=None)
        with rabbitmq.scratch(binding="only.this") as other:
            pub2 = open_destination(RabbitMQDestination(name="b2", type="rabbitmq", exchange=other.exchange),
                                    data_dir=Path("."), secrets_dir=None)
            with pytest.raises(TransientTransportError, match="unroutable"):
                pub2.publish(event())
            pub2.close()
        assert pub.publish(event()).detail["routing_key"] == "x"  # bound with '#'
        pub.close()

    def test_refused_credentials_are_permanent(self, broker, monkeypatch):
        monkeypatch.setenv("GATEWAY_SECRET_BAD_PW", "wrong")
        pub = open_destination(RabbitMQDestination(name="bus", type="rabbitmq", exchange=broker.exchange,
                                                   password={"secret": "BAD_PW"}),
                               data_dir=Path("."), secrets_dir=None)
        with pytest.raises(PermanentTransportError):
            pub.publish(event())
        pub.close()
