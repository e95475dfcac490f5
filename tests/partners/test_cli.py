"""``gateway partners list|show|new|schema|test`` (test: against a real OpenSSH server and a real HTTP server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI

from gateway.partners.jsonschema import partner_schema_text
from tests.partners.keys import write_certificate
from tests.support.http_server import serving
from tests.support.services import unavailable
from tests.support.sshd import SshServer, free_port, sshd_available

REPO = Path(__file__).resolve().parents[2]


def test_published_json_schema_is_up_to_date(cli, tmp_path):
    out = tmp_path / "partner.schema.json"
    r = cli.runner.invoke(__import__("gateway.cli.main", fromlist=["app"]).app, ["partners", "schema", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text() == partner_schema_text()
    published = REPO / "docs" / "partner.schema.json"
    assert published.read_text() == out.read_text(), "run: gateway partners schema -o docs/partner.schema.json"
    schema = json.loads(published.read_text())
    assert schema["additionalProperties"] is False and "channels" in schema["properties"]
    assert {"FolderChannel", "SftpChannel", "WebhookChannel", "As2Channel", "SecretRef"} <= set(schema["$defs"])


def test_list_and_show(cli):
    r = cli("partners", "list")
    assert r.exit_code == 0
    assert [line.split()[0] for line in r.output.splitlines()] == ["acme-retail", "alink-carrier", "harbor-3pl"]
    r = cli("partners", "show", "harbor-3pl", "--json")
    data = json.loads(r.output)
    assert data["id"] == "harbor-3pl" and data["retry"]["attempts"] == 5 and data["retry"]["backoff"] == "30s"
    r = cli("partners", "show", "nobody")
    assert r.exit_code == 2 and "no valid partner with id 'nobody'" in r.output and "acme-retail" in r.output


def test_new_scaffold_is_valid_commented_and_checks(cli):
    r = cli(
        "partners", "new", "northwind", "--name", "Northwind Traders", "--isa-id", "NORTHWIND",
        "--role", "supplier", "-d", "856:inbound:004010", "-d", "940:outbound",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    f = cli.home / "partners" / "northwind.yaml"
    text = f.read_text()
    assert "# - name: sftp" in text and "#   type: as2" in text  # SFTP and AS2 variants shown commented
    r = cli("partners", "check", str(f))
    assert r.exit_code == 0, r.output
    r = cli("partners", "show", "northwind", "--json")
    data = json.loads(r.output)
    assert [(d["set_id"], d["direction"]) for d in data["documents"]] == [("856", "inbound"), ("940", "outbound")]
    assert data["identity"]["interchange_ids"] == [{"qualifier": "ZZ", "id": "NORTHWIND"}]
    r = cli("partners", "new", "northwind", "--name", "X", "--isa-id", "X")
    assert r.exit_code == 2 and "exists already" in r.output
    r = cli("partners", "new", "Bad Id", "--name", "X", "--isa-id", "X")
    assert r.exit_code == 2 and "lower-case" in r.output


@pytest.fixture(scope="module")
def legacy_sshd(tmp_path_factory):
    reason = sshd_available()
    if reason:
        unavailable(reason)
    server = SshServer.start(tmp_path_factory.mktemp("legacy-sshd"), legacy=True)
    yield server
    server.stop()


def _sftp_partner(cli, server: SshServer, *, legacy: bool, host_key: str | None = None) -> None:
    (server.root / "out").mkdir(exist_ok=True)
    (server.root / "in").mkdir(exist_ok=True)
    (server.root / "out" / "a.edi").write_text("ISA")
    key = host_key or server.host_key_pub.read_text().split()[:2]
    key = key if isinstance(key, str) else " ".join(key)
    cli.partner(
        "sftpco.yaml",
        f"""id: sftpco
name: SFTP Co
identity:
  interchange_ids: [{{qualifier: ZZ, id: SFTPCO}}]
channels:
  - name: sftp
    type: sftp
    direction: both
    host: 127.0.0.1
    port: {server.port}
    username: {server.user}
    private_key: {{secret: SFTPCO_KEY}}
    host_key: {key}
    inbound_dir: out
    outbound_dir: in
    legacy_algorithms: {str(legacy).lower()}
    timeout_seconds: 5
""",
    )


@pytest.mark.sftp
def test_test_sftp_login_and_listing(cli, sshd_server, monkeypatch):
    monkeypatch.setenv("GATEWAY_SECRET_SFTPCO_KEY", sshd_server.client_key.read_text())
    _sftp_partner(cli, sshd_server, legacy=False)
    r = cli("partners", "test", "sftpco")
    assert r.exit_code == 0, r.output
    assert "ok   sftp: login:" in r.output and "host key ssh-ed25519" in r.output
    assert "ok   sftp: list inbound_dir: out: 1 entries" in r.output
    assert "ok   sftp: list outbound_dir: in: 0 entries" in r.output
    assert "BEGIN OPENSSH" not in r.output


@pytest.mark.sftp
def test_test_sftp_refuses_a_host_key_that_is_not_pinned(cli, sshd_server, monkeypatch):
    from tests.partners.keys import ed25519_host_key

    monkeypatch.setenv("GATEWAY_SECRET_SFTPCO_KEY", sshd_server.client_key.read_text())
    _sftp_partner(cli, sshd_server, legacy=False, host_key=ed25519_host_key())
    r = cli("partners", "test", "sftpco")
    assert r.exit_code == 1
    assert "FAIL sftp: login:" in r.output and "does not match" in r.output, r.output


@pytest.mark.sftp
@pytest.mark.slow
def test_test_sftp_legacy_server_needs_legacy_algorithms(cli, legacy_sshd, monkeypatch):
    monkeypatch.setenv("GATEWAY_SECRET_SFTPCO_KEY", legacy_sshd.client_key.read_text())
    _sftp_partner(cli, legacy_sshd, legacy=False)
    r = cli("partners", "test", "sftpco")
    assert r.exit_code == 1 and "FAIL sftp: login:" in r.output, r.output
    assert "may need legacy_algorithms: true" in r.output
    _sftp_partner(cli, legacy_sshd, legacy=True)
    r = cli("partners", "test", "sftpco")
    assert r.exit_code == 0, r.output
    assert "host key ssh-rsa" in r.output and "list inbound_dir: out: 1 entries" in r.output


@pytest.fixture
def http_server():
    app = FastAPI()

    @app.post("/as2")
    def as2() -> dict[str, str]:
        return {}

    with serving(app) as url:
        yield url


def test_test_as2_url_and_certificate_dates(cli, http_server):
    write_certificate(cli.home / "partners" / "as2co" / "cert.pem", days_valid=12)
    text = f"""id: as2co
name: AS2 Co
identity:
  interchange_ids: [{{qualifier: ZZ, id: AS2CO}}]
channels:
  - name: as2
    type: as2
    direction: outbound
    as2_id: AS2CO
    url: {http_server}/as2
    signing_certificates: as2co/cert.pem
    encryption_certificate: as2co/cert.pem
"""
    cli.partner("as2co.yaml", text)
    r = cli("partners", "test", "as2co")
    assert r.exit_code == 0, r.output
    assert f"ok   as2: url: {http_server}/as2 answers (HTTP 405)" in r.output
    assert "WARN as2: signing_certificates: certificate cert.pem" in r.output
    port = free_port()
    cli.partner("as2co.yaml", text.replace(http_server, f"http://127.0.0.1:{port}"))
    r = cli("partners", "test", "as2co")
    assert r.exit_code == 1 and "FAIL as2: url:" in r.output and "ConnectError" in r.output


def test_new_with_a_live_sftp_channel(cli):
    from tests.partners.keys import ed25519_host_key

    key = ed25519_host_key()
    r = cli(
        "partners", "new", "sftpco", "--name", "SFTP Co", "--isa-id", "SFTPCO", "--channel", "sftp",
        "--sftp-host", "sftp.sftpco.example", "--host-key", key,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    r = cli("partners", "show", "sftpco", "--json")
    sftp = next(c for c in json.loads(r.output)["channels"] if c["type"] == "sftp")
    assert sftp["host_key"] == key and sftp["private_key"]["secret"] == "SFTPCO_SFTP_KEY"
    r = cli("partners", "check")
    assert r.exit_code == 1 and "GATEWAY_SECRET_SFTPCO_SFTP_KEY" in r.output  # the key secret is not set yet
    r = cli("partners", "new", "other", "--name", "O", "--isa-id", "O", "--channel", "sftp")
    assert r.exit_code == 2 and "--host-key" in r.output
