"""Certificate expiry and rejected partner files in the API's health details."""

from __future__ import annotations

import httpx

from gateway.api.app import create_app
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.apikeys import ApiKeys
from tests.partners.keys import write_certificate
from tests.support.gateway_home import make_home
from tests.support.http_server import serving

AS2CO = """\
id: as2co
name: AS2 Co
identity:
  interchange_ids: [{qualifier: ZZ, id: AS2CO}]
channels:
  - name: as2
    type: as2
    direction: inbound
    as2_id: AS2CO
    signing_certificates: as2co/cert.pem
"""


def test_health_details_show_expiring_certificates_and_rejected_files(tmp_path):
    home = make_home(tmp_path)
    write_certificate(home / "partners" / "as2co" / "cert.pem", days_valid=12)
    (home / "partners" / "as2co.yaml").write_text(AS2CO)
    (home / "partners" / "broken.yaml").write_text("id: broken\nname: [\n")
    write_certificate(home / "config" / "hub.pem", days_valid=365)
    settings = load_settings(
        home / "config" / "gateway.yaml",
        identity={
            "certificates": [
                {"name": "hub", "use": ["as2_signing"], "certificate": "config/hub.pem", "private_key_file": "k.pem"}
            ]
        },
        certificate_warning_days=400,
    )
    gw = Gateway(settings)
    try:
        _key, token = ApiKeys(gw.engine).create("health-test", "viewer")
        with serving(create_app(gw)) as url:
            assert httpx.get(f"{url}/api/health/details", timeout=5).status_code == 401
            body = httpx.get(f"{url}/api/health/details", headers={"X-API-Key": token}, timeout=5).json()["partners"]
    finally:
        gw.stop()
    assert body["status"] == "error" and body["partners"] == 4
    assert len(body["rejected_files"]) == 1 and body["rejected_files"][0].startswith(
        str(home / "partners" / "broken.yaml")
    )
    by_owner = {c["owner"]: c for c in body["certificates"]}
    assert by_owner["as2co"]["severity"] == "warning" and "expires on" in by_owner["as2co"]["message"]
    assert by_owner["us"]["certificate"] == "hub" and "expires on" in by_owner["us"]["message"]
