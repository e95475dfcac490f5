"""An AS2 message's payload goes through the real inbound flow (archive, X12 reading, 997) of a real Gateway."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.as2.receive import As2Receiver
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.models import Direction, MessageStatus
from tests.as2 import peer
from tests.as2.support import Node, own_settings, partner_settings, post, serve
from tests.support.gateway_home import REPO, make_home


def test_payload_is_acknowledged_by_the_inbound_flow(tmp_path):
    home = make_home(tmp_path)
    gw = Gateway(load_settings(home / "config" / "gateway.yaml", home=home))
    try:
        partner = partner_settings(partner_id="harbor-3pl")
        receiver = As2Receiver(
            store=gw.store,
            archive=gw.archive,
            own=own_settings(),
            partners={"PARTNER": partner}.get,
            clock=lambda: datetime.now(UTC),
            deliver=gw.inbound.receive,
        )
        data = (REPO / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi").read_bytes()
        msg = peer.build(data, content_type="application/octet-stream")
        with serve(Node(gw.store, gw.archive, receiver)) as url:
            r = post(url, msg.headers, msg.content)
        assert peer.parse_mdn(msg, dict(r.headers), r.content) == ("processed", None)
        inbound = gw.store.list_messages(direction=Direction.inbound).items
        as2_msg = next(
            m
            for m in inbound
            if m.transport_id == msg.message_id
            and m.channel == "harbor-3pl/as2"
            and m.idempotency_key.startswith("as2:")
        )
        payload_msg = next(m for m in inbound if m.idempotency_key.startswith("as2-payload:"))
        assert as2_msg.status == MessageStatus.processed
        assert payload_msg.status == MessageStatus.acked, payload_msg.reason
        assert gw.archive.read_bytes(payload_msg.archive_key) == data  # octet-stream: bytes exact
        assert [a.kind for a in gw.store.acks_of(payload_msg.id)] in (["997"], ["999"])
    finally:
        gw.stop()
