"""AS2 test support: identities, a store + archive, and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from gateway.api.routes import as2 as as2_route
from gateway.as2 import certs
from gateway.as2.mdn_delivery import AsyncMdnDelivery
from gateway.as2.receive import As2Receiver
from gateway.as2.settings import As2OwnSettings, As2PartnerSettings
from gateway.store.archive import Archive
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from gateway.store.repository import Store
from tests.support.sshd import free_port

_KEYS: dict[str, certs.KeyPair] = {}
ENGINES: list[Any] = []  # disposed after each test by tests/as2/conftest.py


def keypair(name: str, **kw: Any) -> certs.KeyPair:
    """Key pairs are slow to make: one per name per test session (pass kw for a special one, not cached)."""
    if kw:
        return certs.generate(name, **kw)
    if name not in _KEYS:
        _KEYS[name] = certs.generate(name)
    return _KEYS[name]


def own_settings(name: str = "GATEWAY", **kw: Any) -> As2OwnSettings:
    kp = keypair(name)
    return As2OwnSettings(as2_id=name, private_key=kp.private_key, certificate=kp.certificate, **kw)


def partner_settings(name: str = "PARTNER", **kw: Any) -> As2PartnerSettings:
    kp = keypair(name)
    base = As2PartnerSettings(
        as2_id=name, signing_certificates=(kp.certificate,), encryption_certificate=kp.certificate
    )
    return replace(base, **kw)


@dataclass
class Node:
    """One AS2 side: store, archive and (optionally) a receiver behind a real HTTP server."""

    store: Store
    archive: Archive
    receiver: As2Receiver
    url: str = ""
    delivered: list[Any] | None = None
    app: Any = None


def make_node(tmp: Path, own: As2OwnSettings, partners: list[As2PartnerSettings], **kw: Any) -> Node:
    engine = create_db_engine(kw.pop("database_url", None) or f"sqlite:///{tmp / 'gw.db'}")
    upgrade(engine)
    ENGINES.append(engine)
    store, archive = Store(engine), Archive(tmp / "archive")
    by_id = {p.as2_id: p for p in partners}
    delivered: list[Any] = []
    receiver = As2Receiver(
        store=store,
        archive=archive,
        own=own,
        partners=by_id.get,
        clock=kw.pop("clock", lambda: datetime.now(UTC)),
        deliver=lambda item: delivered.append(item.in_memory()),  # a streamed payload's file goes after
        **kw,
    )
    return Node(store, archive, receiver, delivered=delivered)


@contextmanager
def serve(node: Node, *, mdn_delays: tuple[float, ...] = (0.0, 0.2, 0.5)) -> Iterator[str]:
    app = FastAPI()
    app.include_router(as2_route.router)
    app.state.as2_receiver = node.receiver
    node.app = app
    delivery = AsyncMdnDelivery(store=node.store, archive=node.archive, delays=mdn_delays)
    # what the gateway's scheduler does on wake: run the delivery job in a thread of its own
    delivery.wake = lambda: threading.Thread(target=delivery.run_due, daemon=True).start()
    app.state.as2_mdn_delivery = delivery
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{port}/as2"
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    node.url = url
    try:
        yield url
    finally:
        server.should_exit = True
        t.join(timeout=10)


def post(url: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=30)


def make_pair(tmp: Path, *, gw_partner: Any = None, peer_partner: Any = None) -> tuple[Node, Node, Any]:
    """Two gateways, GATEWAY and PARTNER, each receiving on its own server; returns (ours, theirs, our sender)."""
    from gateway.as2.send import As2Sender

    ours = make_node(tmp / "gw", own_settings("GATEWAY"), [gw_partner or partner_settings("PARTNER")])
    theirs = make_node(tmp / "partner", own_settings("PARTNER"), [peer_partner or partner_settings("GATEWAY")])
    sender = As2Sender(
        store=ours.store,
        archive=ours.archive,
        own=ours.receiver.own,
        partners=lambda pid: ours.receiver.partners(pid),
        clock=ours.receiver.clock,
    )
    ours.receiver.mdn_handler = sender.handle_mdn
    return ours, theirs, sender
