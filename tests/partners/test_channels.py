"""The channel schema: each channel type, secret references and pinned host keys."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from gateway.errors import SecretError
from gateway.partners.channels import As2Channel, Channel, SftpChannel, WebhookChannel
from gateway.partners.secrets import SecretRef, resolve_secret
from gateway.partners.types import host_key_fingerprint, parse_duration
from tests.partners.keys import ed25519_host_key, rsa_host_key

CHANNEL = TypeAdapter(Channel)


def sftp(**over):
    data = {
        "name": "sftp",
        "type": "sftp",
        "direction": "both",
        "host": "sftp.acme.example",
        "username": "hub",
        "private_key": {"secret": "ACME_KEY"},
        "host_key": ed25519_host_key(),
        "inbound_dir": "/out",
        "outbound_dir": "/in",
    }
    data.update(over)
    return CHANNEL.validate_python(data)


def errors(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " | ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.value.errors())


def test_sftp_defaults():
    ch = sftp()
    assert isinstance(ch, SftpChannel)
    assert ch.port == 22 and ch.after_pickup == "move" and ch.pattern == "*" and ch.timeout_seconds == 30
    assert ch.processed_folder == "/out/processed"
    assert ch.poll == 300.0 and not ch.legacy_algorithms
    assert ch.inbound and ch.outbound


def test_sftp_host_key_is_normalised_and_rollover_keys_are_accepted():
    key = ed25519_host_key()
    second = rsa_host_key()
    ch = sftp(host_key=f"[sftp.acme.example]:22 {key} comment", host_keys=[second])
    assert ch.host_key == key
    assert ch.accepted_host_keys == [key, second]
    assert host_key_fingerprint(ch.host_key).startswith("SHA256:")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AAAAC3NzaC1lZDI1NTE5AAAAI", "incomplete"),
        ("ssh-ed25519 not-base64!!", "not valid base64"),
        ("ssh-foo AAAA", "unknown host key type"),
        ("ssh-rsa " + "AAAAC3NzaC1lZDI1NTE5AAAAIE" + "A" * 42, "the key data says"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE" + "A" * 14, "wrong length"),
    ],
)
def test_malformed_host_key_is_refused(value, expected):
    with pytest.raises(ValidationError) as e:
        sftp(host_key=value)
    text = errors(e)
    assert "host_key" in text and expected in text and "ssh-ed25519 AAAAC3Nza" in text


def test_literal_password_is_refused_with_what_to_write():
    with pytest.raises(ValidationError) as e:
        sftp(password="hunter2")
    text = errors(e)
    assert "password" in text and "literal secret is not allowed" in text and "{secret:" in text
    assert "hunter2" not in text


def test_sftp_needs_credentials_and_folders():
    with pytest.raises(ValidationError, match="password or a private_key"):
        sftp(private_key=None)
    with pytest.raises(ValidationError, match="needs outbound_dir"):
        sftp(outbound_dir=None)
    with pytest.raises(ValidationError, match=r"'\.\.' is not allowed"):
        sftp(inbound_dir="/out/../etc")


def test_sftp_poll_interval_or_cron():
    assert sftp(poll="5m").poll == 300.0
    assert sftp(poll="*/5 8-18 * * mon-fri").poll == "*/5 8-18 * * mon-fri"
    with pytest.raises(ValidationError, match="not a valid cron"):
        sftp(poll="*/5 99 * * *")
    with pytest.raises(ValidationError, match="neither an interval nor a cron"):
        sftp(poll="often")


def test_webhook_secret_and_url():
    ch = CHANNEL.validate_python(
        {
            "name": "hook",
            "type": "webhook",
            "direction": "outbound",
            "url": "https://x.example/h",
            "secret": {"secret": "H"},
        }
    )
    assert isinstance(ch, WebhookChannel) and ch.format == "x12" and ch.tolerance_seconds == 300
    with pytest.raises(ValidationError, match="literal secret"):
        CHANNEL.validate_python({"name": "h", "type": "webhook", "direction": "inbound", "secret": "s3cret"})
    with pytest.raises(ValidationError, match="needs url"):
        CHANNEL.validate_python({"name": "h", "type": "webhook", "direction": "outbound", "secret": {"secret": "H"}})


def as2(**over):
    data = {
        "name": "as2",
        "type": "as2",
        "direction": "both",
        "as2_id": "ACME AS2",
        "url": "https://as2.acme.example/as2",
        "signing_certificates": ["acme/current.pem", "acme/next.pem"],
        "encryption_certificate": "acme/current.pem",
    }
    data.update(over)
    return CHANNEL.validate_python(data, context={"base_dir": "/etc/partners"})


def test_as2_defaults_and_certificates_beside_the_file():
    ch = as2()
    assert isinstance(ch, As2Channel)
    assert ch.signature_algorithm == "sha256" and ch.encryption_algorithm == "aes_256_cbc"
    assert ch.mdn == "sync" and ch.mdn_signed and ch.compress == "none"
    assert ch.content_type == "application/edi-x12" and ch.verify_tls
    assert [str(p) for p in ch.signing_certificates] == [
        "/etc/partners/acme/current.pem",
        "/etc/partners/acme/next.pem",
    ]
    assert [str(p) for p in ch.encryption_certificate] == ["/etc/partners/acme/current.pem"]
    assert ch.mdn_timeout.total_seconds() == 60


def test_as2_mistakes():
    with pytest.raises(ValidationError, match="at most two certificates"):
        as2(signing_certificates=["a.pem", "b.pem", "c.pem"])
    with pytest.raises(ValidationError, match="needs url"):
        as2(url=None)
    with pytest.raises(ValidationError, match="encryption_certificate is missing"):
        as2(encryption_certificate=None)
    with pytest.raises(ValidationError, match="not an http"):
        as2(url="as2.acme.example")
    with pytest.raises(ValidationError, match="literal secret"):
        as2(basic_auth_user="hub", basic_auth_password="pw")
    with pytest.raises(ValidationError, match="Input should be"):
        as2(mdn="maybe")


def test_folder_channel_is_one_way():
    with pytest.raises(ValidationError, match="goes one way"):
        CHANNEL.validate_python({"name": "f", "type": "folder", "direction": "both", "path": "x"})


def test_unknown_channel_type_names_the_choices():
    with pytest.raises(ValidationError) as e:
        CHANNEL.validate_python({"name": "f", "type": "ftp", "direction": "inbound"})
    assert "'folder', 'sftp', 'webhook', 'as2'" in errors(e)


def test_resolve_secret_from_environment_then_directory(tmp_path):
    ref = SecretRef(secret="acme-sftp.password")
    assert ref.env_var == "GATEWAY_SECRET_ACME_SFTP_PASSWORD"
    value = resolve_secret(ref, environ={"GATEWAY_SECRET_ACME_SFTP_PASSWORD": "pw1"})
    assert value.get_secret_value() == "pw1" and "pw1" not in repr(value) and "pw1" not in str(value)
    (tmp_path / "acme-sftp.password").write_text("pw2\n")
    assert resolve_secret(ref, secrets_dir=tmp_path, environ={}).get_secret_value() == "pw2"
    with pytest.raises(SecretError, match="GATEWAY_SECRET_ACME_SFTP_PASSWORD") as e:
        resolve_secret(SecretRef(secret="acme-sftp.password"), secrets_dir=tmp_path / "none", environ={})
    assert "not set" in e.value.message


def test_durations():
    assert parse_duration("1h30m").total_seconds() == 5400
    assert parse_duration(90).total_seconds() == 90
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")
