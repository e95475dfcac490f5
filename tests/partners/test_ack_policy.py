"""A document's own acknowledgement policy overrides the partner's for interchanges of that document."""

from __future__ import annotations

import yaml

from gateway.partners.schema import Partner
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.models import Direction, MessageStatus
from tests.support.gateway_home import drop, make_home, wait_for

PARTNER = """
id: p
name: P
identity: {interchange_ids: [{qualifier: ZZ, id: P}]}
acknowledgements: {send: "997", expect_ack_within: 4h}
documents:
  - {set_id: "856", direction: inbound, ack: {send: none}}
  - {set_id: "945", direction: inbound}
"""


def test_ack_policy_for_an_interchange():
    p = Partner.model_validate(yaml.safe_load(PARTNER))
    assert p.ack_policy_for([("856", "004010")]).send == "none"
    assert p.ack_policy_for([("945", "004010")]).send == "997"
    assert p.ack_policy_for([("856", "004010"), ("945", "004010")]).send == "997"  # mixed: the partner's
    assert p.acknowledgements.expect_ack_within.total_seconds() == 4 * 3600


def test_document_override_suppresses_the_997_in_the_flow(tmp_path, repo_root):
    home = make_home(tmp_path)
    f = home / "partners" / "harbor-3pl.yaml"
    f.write_text(
        f.read_text().replace(
            '{set_id: "856", direction: inbound}', '{set_id: "856", direction: inbound, ack: {send: none}}'
        )
    )
    settings = load_settings(home / "config" / "gateway.yaml", folder={"min_age_seconds": 0.2, "sweep_seconds": 1})
    gw = Gateway(settings)
    gw.start()
    try:
        src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
        drop(src, settings.data_path / "channels" / "harbor-3pl" / "inbound")

        def done():
            items = gw.store.list_messages(limit=10, direction=Direction.inbound).items
            return next((m for m in items if m.status == MessageStatus.acked), None)

        msg = wait_for(done, timeout=10)
        assert gw.store.acks_of(msg.id) == []
        assert gw.store.list_messages(limit=10, direction=Direction.outbound).items == []
    finally:
        gw.stop()
