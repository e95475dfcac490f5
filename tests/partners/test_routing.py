"""Routing: every source that names a partner must agree; unknown or conflicting items are quarantined."""

from __future__ import annotations

import pytest
import yaml

from gateway.errors import MisaddressedError, RoutingConflictError, UnknownPartnerError
from gateway.partners.registry import PartnerRegistry
from gateway.partners.schema import Partner
from gateway.runtime import Gateway
from gateway.settings import OwnIdentity, load_settings
from gateway.store.models import Direction, MessageStatus
from tests.support.gateway_home import drop, make_home, wait_for

ACME = """
id: acme
name: ACME
identity:
  interchange_ids: [{qualifier: ZZ, id: ACME}]
  application_ids: [ACMEAPP]
  as2_id: ACME-AS2
"""
BETA = """
id: beta
name: Beta
identity:
  interchange_ids: [{qualifier: ZZ, id: BETA}]
  application_ids: [BETAAPP]
channels:
  - {name: hook, type: webhook, direction: inbound, secret: {secret: BETA_HOOK}}
"""


@pytest.fixture
def registry() -> PartnerRegistry:
    partners = [Partner.model_validate(yaml.safe_load(t)) for t in (ACME, BETA)]
    return PartnerRegistry(partners, OwnIdentity(isa_qualifier="ZZ", isa_id="HUB", as2_id="HUB-AS2"))


def envelope(**over):
    kw = {"sender_qualifier": "ZZ", "sender_id": "ACME", "receiver_qualifier": "ZZ", "receiver_id": "HUB"}
    kw.update(over)
    return kw


def test_all_sources_agree(registry):
    p = registry.identify(**envelope(), as2_from="ACME-AS2", as2_to="HUB-AS2", group_senders=["ACMEAPP"])
    assert p.id == "acme"
    assert registry.identify_source(as2_from="ACME-AS2").id == "acme"
    assert registry.identify_source(webhook_partner="beta", channel_partner="beta").id == "beta"
    assert registry.identify_source() is None


def test_as2_from_unknown_and_as2_to_not_ours(registry):
    with pytest.raises(UnknownPartnerError, match="unknown AS2-From 'NOBODY'"):
        registry.identify_source(as2_from="NOBODY")
    with pytest.raises(MisaddressedError, match="AS2-To 'SOMEONE' is not our AS2 id \\(expected HUB-AS2\\)"):
        registry.identify_source(as2_from="ACME-AS2", as2_to="SOMEONE")


def test_as2_from_and_envelope_conflict(registry):
    with pytest.raises(RoutingConflictError, match=r"envelope names partner 'beta'.*through partner 'acme'"):
        registry.identify(**envelope(sender_id="BETA"), as2_from="ACME-AS2")


def test_channel_and_webhook_credentials_conflict(registry):
    with pytest.raises(RoutingConflictError, match="the channel names 'acme', the webhook credentials names 'beta'"):
        registry.identify_source(channel_partner="acme", webhook_partner="beta")


def test_gs_sender_of_another_partner_is_a_conflict(registry):
    with pytest.raises(RoutingConflictError, match="GS sender 'BETAAPP' belongs to beta"):
        registry.identify(**envelope(), group_senders=["BETAAPP"])
    # a GS id nobody declares is not evidence of anything
    assert registry.identify(**envelope(), group_senders=["SOMETHINGELSE"]).id == "acme"


def test_unknown_sender_on_a_known_channel_says_what_to_do(registry):
    with pytest.raises(UnknownPartnerError) as e:
        registry.identify(**envelope(sender_id="NEWID"), channel_partner="acme")
    assert "it came in through partner 'acme'" in e.value.message
    assert "add it to identity.interchange_ids" in e.value.hint


def test_file_on_another_partners_channel_is_quarantined_with_the_reason(tmp_path, repo_root):
    home = make_home(tmp_path)
    settings = load_settings(home / "config" / "gateway.yaml", folder={"min_age_seconds": 0.2, "sweep_seconds": 1})
    gw = Gateway(settings)
    gw.start()
    try:
        src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"  # envelope: harbor-3pl
        inbox = settings.data_path / "channels" / "alink-carrier" / "inbound"
        drop(src, inbox)

        def done():
            for m in gw.store.list_messages(limit=10, direction=Direction.inbound).items:
                if m.status not in (MessageStatus.archived, MessageStatus.processing, MessageStatus.received):
                    return m
            return None

        msg = wait_for(done, timeout=10)
        assert msg.status == MessageStatus.quarantined
        assert "envelope names partner 'harbor-3pl'" in msg.reason and "'alink-carrier'" in msg.reason
        assert (inbox / "failed" / src.name).read_bytes() == src.read_bytes()
    finally:
        gw.stop()
