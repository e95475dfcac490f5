"""The partner file's as2 channel and our identity in the settings, adapted to the AS2 core and used end to end."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.as2.partners import as2_own_settings, as2_partners
from gateway.as2.service import build_service
from gateway.errors import ConfigError
from gateway.partners.loader import load_partners
from gateway.settings import load_settings
from gateway.store.models import Direction, MessageStatus
from tests.as2 import peer
from tests.as2.support import Node, keypair, make_node, post, serve

PARTNER_FILE = """\
id: peer-co
name: Peer Co
identity:
  interchange_ids:
    - {qualifier: ZZ, id: PEERCO}
channels:
  - name: as2
    type: as2
    direction: both
    as2_id: PARTNER
    url: http://127.0.0.1:9/as2
    signing_certificates: [peer-co/old.der, peer-co/current.pem]
    encryption_certificate: peer-co/current.pem
    mdn_timeout: 90s
    basic_auth_user: gw
    basic_auth_password: {secret: PEER_AS2_PASSWORD}
documents:
  - {set_id: "856", direction: inbound}
"""


@pytest.fixture
def home(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    (tmp_path / "partners" / "peer-co").mkdir(parents=True)
    (tmp_path / "partners" / "peer-co.yaml").write_text(PARTNER_FILE)
    (tmp_path / "partners" / "peer-co" / "current.pem").write_bytes(keypair("PARTNER").certificate)
    old = x509.load_pem_x509_certificate(keypair("OLD-PARTNER").certificate)
    (tmp_path / "partners" / "peer-co" / "old.der").write_bytes(old.public_bytes(serialization.Encoding.DER))
    (tmp_path / "config" / "certs").mkdir(parents=True)
    (tmp_path / "config" / "certs" / "gw.pem").write_bytes(keypair("GATEWAY").certificate)
    (tmp_path / "gw.key").write_bytes(keypair("GATEWAY").private_key)
    return tmp_path


def settings_for(home):
    return load_settings(
        None,
        home=home,
        identity={
            "as2_id": "GATEWAY",
            "certificates": [
                {
                    "name": "as2",
                    "use": ["as2_signing", "as2_encryption"],
                    "certificate": "config/certs/gw.pem",
                    "private_key_file": "gw.key",
                }
            ],
        },
    )


def test_partner_file_and_identity_drive_a_real_exchange(home, tmp_path):
    partners, problems = load_partners(home / "partners")
    assert problems == []
    from gateway.partners.secrets import SecretRef

    env = {SecretRef(secret="PEER_AS2_PASSWORD").env_var: "s3cret"}
    [settings] = as2_partners(partners, environ=env)
    assert settings.partner_id == "peer-co" and settings.as2_id == "PARTNER"
    assert len(settings.signing_certificates) == 2 and settings.signing_certificates[0].startswith(b"-----BEGIN")
    assert settings.mdn_timeout == 90 and settings.basic_auth_password == "s3cret"
    assert "s3cret" not in repr(settings)
    own = as2_own_settings(settings_for(home))
    node = make_node(tmp_path / "gw", own, [])
    service = build_service(
        store=node.store,
        archive=node.archive,
        own=own,
        partners=lambda: [settings],
        clock=lambda: datetime.now(UTC),
        deliver=node.delivered.append,
    )
    msg = peer.build(b"ISA*payload~")  # signed with the current certificate: the second in the list
    with serve(Node(node.store, node.archive, service.receiver, delivered=node.delivered)) as url:
        r = post(url, msg.headers, msg.content)
    assert peer.parse_mdn(msg, dict(r.headers), r.content) == ("processed", None)
    [m] = node.store.list_messages(direction=Direction.inbound).items
    assert m.status == MessageStatus.processed and m.partner_id == "peer-co"


def test_identity_without_as2_certificates_is_a_config_error(home):
    with pytest.raises(ConfigError, match="as2_signing"):
        as2_own_settings(load_settings(None, home=home, identity={"as2_id": "GATEWAY"}))
