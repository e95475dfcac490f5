"""The runtime's outbound AS2 transports (gateway/as2/runtime.py:outbound_as2): every partner's AS2 channel gets a
usable transport, not only the first one asked for after a (re)load of the partner registry."""

from __future__ import annotations

from pathlib import Path

import yaml

from gateway.as2.outbound import As2Outbound
from gateway.as2.runtime import outbound_as2
from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.as2.support import keypair
from tests.support.gateway_home import make_home


def _as2_channel(home: Path, partner: str, as2_id: str) -> None:
    folder = home / "partners" / partner
    folder.mkdir(exist_ok=True)
    (folder / "peer.pem").write_bytes(keypair(as2_id).certificate)
    spec = yaml.safe_load((home / "partners" / f"{partner}.yaml").read_text())
    spec["channels"].append({
        "name": "as2", "type": "as2", "direction": "outbound", "as2_id": as2_id, "url": "http://127.0.0.1:9/as2",
        "signing_certificates": f"{partner}/peer.pem", "encryption_certificate": f"{partner}/peer.pem",
    })  # fmt: skip
    (home / "partners" / f"{partner}.yaml").write_text(yaml.safe_dump(spec))


def test_every_partners_as2_channel_gets_a_transport(tmp_path):
    home = make_home(tmp_path)
    _as2_channel(home, "harbor-3pl", "HARBORAS2")
    _as2_channel(home, "acme-retail", "ACMEAS2")
    ours = keypair("GATEWAY")
    (home / "config" / "certs").mkdir()
    (home / "config" / "certs" / "gw.key").write_bytes(ours.private_key)
    (home / "config" / "certs" / "gw.pem").write_bytes(ours.certificate)
    cfg = yaml.safe_load((home / "config" / "gateway.yaml").read_text())
    cfg["identity"].update(as2_id="GATEWAY", certificates=[{
        "name": "as2", "use": ["as2_signing", "as2_encryption"], "certificate": "config/certs/gw.pem",
        "private_key_file": "config/certs/gw.key",
    }])  # fmt: skip
    (home / "config" / "gateway.yaml").write_text(yaml.safe_dump(cfg))
    gw = Gateway(load_settings(home / "config" / "gateway.yaml"))
    try:
        assert gw.as2 is not None
        for _ in range(2):  # asked again with the same registry: served from the cache
            for pid in ("harbor-3pl", "acme-retail"):
                partner = gw.registry.get(pid)
                assert partner is not None
                [transport] = outbound_as2(gw, partner)
                assert isinstance(transport, As2Outbound), transport
                assert transport.channel == f"{pid}/as2"
    finally:
        gw.engine.dispose()
