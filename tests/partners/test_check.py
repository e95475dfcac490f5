"""``gateway partners check``: every mistake an onboarding person can make names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.partners.keys import ed25519_host_key, write_certificate

BASE = """\
id: newco
name: NewCo
identity:
  interchange_ids:
    - {qualifier: ZZ, id: NEWCO}
channels:
  - {name: inbox, type: folder, direction: inbound, path: channels/newco/inbound}
documents:
  - {set_id: "856", direction: inbound}
"""


def lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.strip()]


def problem(result, file: Path) -> str:
    found = [line for line in lines(result) if line.startswith(str(file))]
    assert found, result.output
    return found[0]


def test_shipped_partners_pass(cli):
    r = cli("partners", "check")
    assert r.exit_code == 0, r.output
    assert "3 partner(s) valid, 0 error(s)" in r.output


def test_yaml_syntax_error_names_the_line(cli):
    f = cli.partner("newco.yaml", BASE.replace("  interchange_ids:\n", "  interchange_ids: [\n"))
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    line = problem(r, f)
    assert line.startswith(f"{f}:") and "not valid YAML" in line and "check indentation" in line
    assert int(line.split(":")[1]) in (4, 5, 6)


def test_wrong_type_names_line_field_and_expectation(cli):
    f = cli.partner("newco.yaml", BASE + "retry: {attempts: many}\n")
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    assert problem(r, f) == (
        f"{f}:10: retry.attempts: Input should be a valid integer, unable to parse string as an integer (got 'many'); "
        "expected tries in all, the first included"
    )
    f.write_text(BASE.replace('set_id: "856"', 'set_id: "85"'))
    r = cli("partners", "check", str(f))
    assert problem(r, f) == (
        f"{f}:9: documents[0].set_id: this value does not have the expected form (got '85'); "
        "expected X12 transaction set id: 940, 945, 856, 214 ..."
    )


def test_channel_type_mistakes(cli):
    f = cli.partner("newco.yaml", BASE.replace("type: folder", "typ: folder"))
    r = cli("partners", "check", str(f))
    assert problem(r, f) == (
        f"{f}:7: channels[0]: this channel has no type (is 'typ' meant to be 'type'?): "
        "expected type: folder, sftp, webhook or as2"
    )
    f.write_text(BASE.replace("type: folder", "type: ftp"))
    r = cli("partners", "check", str(f))
    assert (
        problem(r, f)
        == f"{f}:7: channels[0]: unknown channel type 'ftp': expected one of 'folder', 'sftp', 'webhook', 'as2'"
    )


def test_file_name_that_is_not_the_id_is_a_warning(cli):
    f = cli.partner("new-co.yaml", BASE)
    r = cli("partners", "check", str(f))
    assert r.exit_code == 0
    assert problem(r, f) == (
        f"{f}:1: id: warning: the file is named new-co.yaml but the partner id is 'newco': name it newco.yaml so "
        "the partner is easy to find"
    )


def test_unknown_key_suggests_the_right_one(cli):
    f = cli.partner("newco.yaml", BASE + "acknowledgments: {send: '997'}\n")
    r = cli("partners", "check", str(f))
    assert problem(r, f).startswith(
        f"{f}:10: acknowledgments: unknown key 'acknowledgments': did you mean 'acknowledgements'?"
    )
    f.write_text(BASE.replace("direction: inbound}", "direction: inbound, versoin: '005010'}"))
    r = cli("partners", "check", str(f))
    assert problem(r, f).startswith(f"{f}:9: documents[0].versoin: unknown key 'versoin': did you mean 'version'?")


def test_missing_field_and_wrong_choice(cli):
    f = cli.partner("newco.yaml", BASE.replace("name: NewCo\n", "") + "reading: lenient\n")
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    assert f"{f}:1: name: name is required here but missing" in r.output
    assert f"{f}:9: reading: Input should be 'strict' or 'tolerant' (got 'lenient')" in r.output


def test_duplicate_partner_ids_across_files(cli):
    a = cli.partner("a-newco.yaml", BASE)
    b = cli.partner("b-newco.yaml", BASE.replace("id: NEWCO", "id: OTHER"))
    r = cli("partners", "check")
    assert r.exit_code == 1
    assert problem(r, b) == (
        f"{b}:1: id: partner id 'newco' is already used by {a}:1: each partner file needs its own id"
    )


def test_duplicate_interchange_ids_across_files(cli):
    cli.partner("a-newco.yaml", BASE)
    b = cli.partner(
        "b-other.yaml",
        BASE.replace("id: newco", "id: other").replace("{qualifier: ZZ, id: NEWCO}", "{qualifier: zz, id: newco}"),
    )
    r = cli("partners", "check")
    assert r.exit_code == 1
    assert problem(r, b).startswith(
        f"{b}:5: identity.interchange_ids[0]: interchange id zz/newco is already claimed by partner 'newco'"
    )


def test_secret_reference_that_does_not_resolve(cli, monkeypatch):
    text = BASE.replace(
        "documents:",
        """  - name: sftp
    type: sftp
    direction: inbound
    host: sftp.newco.example
    username: hub
    password: {secret: NEWCO_SFTP_PASSWORD}
    host_key: HOSTKEY
    inbound_dir: /out
documents:""".replace("HOSTKEY", ed25519_host_key()),
    )
    f = cli.partner("newco.yaml", text)
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    assert problem(r, f).startswith(
        f"{f}:13: channels[1].password: secret 'NEWCO_SFTP_PASSWORD' is not set (looked for environment variable "
        "GATEWAY_SECRET_NEWCO_SFTP_PASSWORD)"
    )
    monkeypatch.setenv("GATEWAY_SECRET_NEWCO_SFTP_PASSWORD", "pw-value-1")
    r = cli("partners", "check", str(f))
    assert r.exit_code == 0, r.output
    assert "pw-value-1" not in r.output
    r = cli("partners", "show", "newco")
    assert "pw-value-1" not in r.output and "********** (set)" in r.output and "NEWCO_SFTP_PASSWORD" in r.output


def test_literal_secret_is_refused(cli):
    text = BASE.replace(
        "documents:",
        """  - name: hook
    type: webhook
    direction: inbound
    secret: correct-horse-battery
documents:""",
    )
    f = cli.partner("newco.yaml", text)
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    assert problem(r, f).startswith(f"{f}:11: channels[1].secret: a literal secret is not allowed here")
    assert "correct-horse-battery" not in r.output


def test_malformed_host_key(cli, monkeypatch):
    monkeypatch.setenv("GATEWAY_SECRET_K", "x")
    text = BASE.replace(
        "documents:",
        """  - name: sftp
    type: sftp
    direction: inbound
    host: sftp.newco.example
    username: hub
    password: {secret: K}
    host_key: ssh-ed25519 AAAA+this/is/not/a/key
    inbound_dir: /out
documents:""",
    )
    f = cli.partner("newco.yaml", text)
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    line = problem(r, f)
    assert line.startswith(f"{f}:14: channels[1].host_key: the key data of this ssh-ed25519 host key is not valid")
    assert "ssh-keyscan" in line


def as2_partner(certs: str) -> str:
    return BASE.replace(
        "documents:",
        f"""  - name: as2
    type: as2
    direction: inbound
    as2_id: NEWCO
    signing_certificates: {certs}
documents:""",
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        (b"hello", "is not a PEM or DER X.509 certificate"),
        (b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", "is a private key, not a certificate"),
    ],
)
def test_unreadable_certificate(cli, content, expected):
    if content is not None:
        (cli.home / "partners" / "newco").mkdir()
        (cli.home / "partners" / "newco" / "as2.pem").write_bytes(content)
    f = cli.partner("newco.yaml", as2_partner("newco/as2.pem"))
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    line = problem(r, f)
    assert line.startswith(f"{f}:12: channels[1].signing_certificates: ") and expected in line


def test_certificate_expiry_warns_within_30_days_and_rollover_overlaps(cli):
    certs = cli.home / "partners" / "newco"
    write_certificate(certs / "old.pem", days_valid=10)
    write_certificate(certs / "next.pem", days_valid=400)
    write_certificate(certs / "gone.pem", days_valid=-5)
    f = cli.partner("newco.yaml", as2_partner("newco/old.pem"))
    r = cli("partners", "check", str(f))
    assert r.exit_code == 0, r.output
    assert problem(r, f).startswith(f"{f}:12: channels[1].signing_certificates: warning: certificate old.pem")
    assert "in 9 days" in r.output or "in 10 days" in r.output
    f.write_text(as2_partner("[newco/old.pem, newco/next.pem]"))
    r = cli("partners", "check", str(f))
    assert r.exit_code == 0 and "warning:" not in r.output, r.output
    f.write_text(as2_partner("newco/gone.pem"))
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1 and "gone.pem expired on" in problem(r, f)
    f.write_text(as2_partner("[newco/gone.pem, newco/next.pem]"))
    r = cli("partners", "check", str(f))
    assert r.exit_code == 0 and "warning: certificate gone.pem expired" in r.output


def test_mapping_that_does_not_exist(cli):
    f = cli.partner("newco.yaml", BASE.replace("direction: inbound}", "direction: inbound, mapping: x12-856-in}"))
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    line = problem(r, f)
    assert line.startswith(f"{f}:9: documents[0].mapping: mapping 'x12-856-in' does not exist under")
    assert "has no mapping files yet" in line
    (cli.home / "mappings" / "x12-856-out.yaml").write_text("{}\n")
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1 and "one of: x12-856-out" in problem(r, f)
    (cli.home / "mappings" / "x12-856-in.yaml").write_text("{}\n")
    assert cli("partners", "check", str(f)).exit_code == 0


def test_no_mapping_named_passes_with_an_empty_mappings_folder(cli):
    assert not any((cli.home / "mappings").iterdir())
    f = cli.partner("newco.yaml", BASE)
    r = cli("partners", "check", str(f))
    assert r.exit_code == 0, r.output


def test_our_own_certificate_in_config(cli, monkeypatch):
    cfg = cli.home / "config" / "gateway.yaml"
    write_certificate(cli.home / "config" / "certs" / "hub.pem", days_valid=20)
    cfg.write_text(
        cfg.read_text().replace(
            "  as2_id: EXAMPLEHUB\n",
            "  as2_id: EXAMPLEHUB\n  certificates:\n    - name: as2\n      use: [as2_signing]\n"
            "      certificate: config/certs/hub.pem\n      private_key: {secret: HUB_KEY}\n",
        )
    )
    n = cfg.read_text().splitlines().index("      certificate: config/certs/hub.pem") + 1
    r = cli("partners", "check")
    assert r.exit_code == 1
    assert f"{cfg}:{n}: identity.certificates[0].certificate: warning: certificate hub.pem" in r.output
    assert f"{cfg}:{n + 1}: identity.certificates[0].private_key: secret 'HUB_KEY' is not set" in r.output
    monkeypatch.setenv("GATEWAY_SECRET_HUB_KEY", "-----BEGIN PRIVATE KEY-----")
    assert cli("partners", "check").exit_code == 0


def test_paths_below_the_current_folder_are_shown_relative(cli, monkeypatch):
    cli.partner("newco.yaml", BASE + "colour: blue\n")
    monkeypatch.chdir(cli.home)
    r = cli("partners", "check")
    assert r.exit_code == 1
    assert "partners/newco.yaml:10: colour: unknown key 'colour'" in r.output.splitlines()[0]


def test_secret_from_the_secrets_directory(cli):
    cfg = cli.home / "config" / "gateway.yaml"
    cfg.write_text(cfg.read_text() + "secrets_dir: secrets\n")
    text = BASE.replace(
        "documents:",
        "  - {name: hook, type: webhook, direction: inbound, secret: {secret: newco-hook}}\ndocuments:",
    )
    f = cli.partner("newco.yaml", text)
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1 and f"file {cli.home / 'secrets' / 'newco-hook'}" in problem(r, f)
    (cli.home / "secrets").mkdir()
    (cli.home / "secrets" / "newco-hook").write_text("s3cr3t-value\n")
    r = cli("partners", "check", str(f))
    assert r.exit_code == 0, r.output
    r = cli("partners", "show", "newco")
    assert "s3cr3t-value" not in r.output and "newco-hook" in r.output and "(set)" in r.output


def test_a_key_given_twice_is_refused(cli):
    f = cli.partner(
        "newco.yaml",
        BASE.replace(
            "documents:",
            "  - name: in2\n    type: folder\n    direction: inbound\n    path: a\n    path: b\ndocuments:",
        )
        + "channels: []\n",
    )
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    out = [line for line in lines(r) if line.startswith(str(f))]
    assert out == [
        f"{f}:12: channels[1].path: 'path' is given twice (first on line 11); YAML would silently keep only this "
        "one: merge the two",
        f"{f}:15: channels: 'channels' is given twice (first on line 6); YAML would silently keep only this one: "
        "merge the two",
    ]


def test_a_partner_claiming_our_own_id(cli):
    f = cli.partner("newco.yaml", BASE.replace("{qualifier: ZZ, id: NEWCO}", "{qualifier: ZZ, id: EXAMPLEHUB}"))
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    assert problem(r, f).startswith(
        f"{f}:5: identity.interchange_ids[0]: ZZ/EXAMPLEHUB is our own interchange id (config/gateway.yaml"
    )


def test_check_as_json(cli):
    import json

    f = cli.partner("newco.yaml", BASE + "colour: blue\n")
    r = cli("partners", "check", str(f), "--json")
    assert r.exit_code == 1
    data = json.loads(r.output)
    assert data["valid"] == 0 and data["files"] == 1
    assert data["problems"][0] == {
        "file": str(f),
        "line": 10,
        "field": "colour",
        "message": data["problems"][0]["message"],
        "severity": "error",
    }
    assert data["problems"][0]["message"].startswith("unknown key 'colour'")


def test_async_mdn_channel_needs_our_mdn_url_domain_and_email(cli):
    write_certificate(cli.home / "partners" / "newco" / "as2.pem", days_valid=400)
    channel = as2_partner("newco/as2.pem").replace(
        "    direction: inbound\n",
        "    direction: both\n    url: https://as2.newco.example/as2\n    encryption_certificate: newco/as2.pem\n"
        "    mdn: async\n",
    )
    f = cli.partner("newco.yaml", channel)
    n = f.read_text().splitlines().index("    mdn: async") + 1
    r = cli("partners", "check", str(f))
    assert r.exit_code == 1
    assert problem(r, f) == (
        f"{f}:{n}: channels[1].mdn: mdn: async needs identity.as2_mdn_url, identity.as2_message_id_domain, "
        "identity.as2_email in config/gateway.yaml (where the partner sends our MDNs, the domain of our "
        "Message-IDs, our AS2 address); set them, or use mdn: sync"
    )
    cfg = cli.home / "config" / "gateway.yaml"
    cfg.write_text(
        cfg.read_text().replace(
            "  as2_id: EXAMPLEHUB\n",
            "  as2_id: EXAMPLEHUB\n  as2_mdn_url: https://as2.example.com/as2\n"
            "  as2_message_id_domain: as2.example.com\n  as2_email: as2@example.com\n",
        )
    )
    r = cli("partners", "check", str(f))
    assert r.exit_code == 0, r.output
    f.write_text(channel.replace("    mdn: async\n", "    mdn: sync\n"))  # sync needs none of them
    cfg.write_text(cfg.read_text().replace("  as2_mdn_url: https://as2.example.com/as2\n", ""))
    assert cli("partners", "check", str(f)).exit_code == 0
