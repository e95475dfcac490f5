"""A gateway home with AS2 configured: our identity in config/gateway.yaml, an AS2 channel on harbor-3pl (shared by
the AS2 and hardening tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.as2.support import keypair
from tests.support.gateway_home import make_home


def as2_home(base: Path, *, channel: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> Path:
    home = make_home(base)
    (home / "partners" / "harbor-3pl").mkdir(exist_ok=True)
    (home / "partners" / "harbor-3pl" / "partner.pem").write_bytes(keypair("PARTNER").certificate)
    harbor = yaml.safe_load((home / "partners" / "harbor-3pl.yaml").read_text())
    harbor["channels"].append(
        {
            "name": "as2",
            "type": "as2",
            "direction": "inbound",
            "as2_id": "PARTNER",
            "signing_certificates": "harbor-3pl/partner.pem",
            **(channel or {}),
        }
    )
    (home / "partners" / "harbor-3pl.yaml").write_text(yaml.safe_dump(harbor))
    (home / "config" / "certs").mkdir()
    (home / "config" / "certs" / "gw.pem").write_bytes(keypair("GATEWAY").certificate)
    (home / "config" / "certs" / "gw.key").write_bytes(keypair("GATEWAY").private_key)
    cfg = yaml.safe_load((home / "config" / "gateway.yaml").read_text())
    cfg["identity"]["as2_id"] = "GATEWAY"
    cfg["identity"]["certificates"] = [
        {
            "name": "as2",
            "use": ["as2_signing", "as2_encryption"],
            "certificate": "config/certs/gw.pem",
            "private_key_file": "config/certs/gw.key",
        }
    ]
    cfg.update(config or {})
    (home / "config" / "gateway.yaml").write_text(yaml.safe_dump(cfg))
    return home
