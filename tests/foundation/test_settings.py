from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.settings import load_settings


def write(tmp_path: Path, text: str) -> Path:
    cfg = tmp_path / "config"
    cfg.mkdir(exist_ok=True)
    f = cfg / "gateway.yaml"
    f.write_text(text)
    return f


def test_file_values_and_home_from_config_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("GATEWAY_API_PORT", raising=False)
    f = write(tmp_path, "api_port: 9100\nidentity: {isa_id: HUB1, gs_id: HUB1}\n")
    s = load_settings(f)
    assert s.api_port == 9100
    assert s.home == tmp_path
    assert s.data_path == tmp_path / "var"
    assert s.database == f"sqlite:///{tmp_path / 'var' / 'gateway.db'}"
    assert s.identity.isa_id == "HUB1"


def test_environment_beats_file_and_nested_keys_merge(tmp_path, monkeypatch):
    f = write(tmp_path, "api_port: 9100\nidentity: {isa_id: HUB1, gs_id: HUB1, isa_qualifier: '01'}\n")
    monkeypatch.setenv("GATEWAY_API_PORT", "9200")
    monkeypatch.setenv("GATEWAY_IDENTITY__ISA_ID", "FROMENV")
    s = load_settings(f)
    assert s.api_port == 9200
    assert s.identity.isa_id == "FROMENV"
    assert s.identity.isa_qualifier == "01"  # the file's other nested keys survive


def test_unknown_key_is_refused_with_file_named(tmp_path):
    f = write(tmp_path, "api_prot: 1\n")
    with pytest.raises(ConfigError) as e:
        load_settings(f)
    assert "api_prot" in str(e.value) and str(f) in str(e.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    f = write(tmp_path, "api_port: 1\nidentity: [\n")
    with pytest.raises(ConfigError) as e:
        load_settings(f)
    assert e.value.location.line is not None


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


def test_shipped_config_loads(repo_root):
    s = load_settings(repo_root / "config" / "gateway.yaml")
    assert s.api_host == "127.0.0.1" and s.api_port == 8080
    assert s.partners_path == repo_root / "partners"


def test_as2_sending_settings_reach_our_as2_identity(tmp_path, monkeypatch):
    from gateway.as2.certs import generate
    from gateway.as2.partners import as2_own_settings

    kp = generate("HUB")
    (tmp_path / "hub.pem").write_bytes(kp.certificate)
    (tmp_path / "hub.key").write_bytes(kp.private_key)
    f = write(
        tmp_path,
        "identity:\n  as2_id: HUB\n  as2_mdn_url: https://as2.hub.example/as2\n"
        "  as2_message_id_domain: as2.hub.example\n  as2_email: edi@hub.example\n"
        "  certificates:\n    - {name: as2, use: [as2_signing, as2_encryption], certificate: hub.pem,"
        " private_key_file: hub.key}\n",
    )
    own = as2_own_settings(load_settings(f))
    assert (own.mdn_url, own.domain, own.email) == ("https://as2.hub.example/as2", "as2.hub.example", "edi@hub.example")
    monkeypatch.setenv("GATEWAY_IDENTITY__AS2_MDN_URL", "as2.hub.example/as2")
    with pytest.raises(ConfigError, match="as2_mdn_url must be an http"):
        load_settings(f)
    monkeypatch.delenv("GATEWAY_IDENTITY__AS2_MDN_URL")
    monkeypatch.setenv("GATEWAY_IDENTITY__AS2_MESSAGE_ID_DOMAIN", "<as2@hub>")
    with pytest.raises(ConfigError, match="as2_message_id_domain is a host name"):
        load_settings(f)


@pytest.mark.parametrize(("database", "processes", "workers", "expected"), [
    ("postgresql+psycopg://u@h/db", 1, None, 2),  # one process: two threads overlap its round trips
    ("postgresql+psycopg://u@h/db", 2, None, 1),  # several processes overlap each other's: one thread each
    ("sqlite:///x.db", 1, None, 1),
    ("sqlite:///x.db", 2, None, 1),
    ("postgresql+psycopg://u@h/db", 2, 3, 3),  # said explicitly: kept
    ("sqlite:///x.db", 1, 2, 2),
])
def test_inbound_threads_per_process_by_database_and_processes(tmp_path, monkeypatch, database, processes, workers,
                                                               expected):
    for name in ("GATEWAY_INBOUND_WORKERS", "GATEWAY_INBOUND_PROCESSES", "GATEWAY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    text = f"database_url: '{database}'\ninbound_processes: {processes}\n"
    if workers is not None:
        text += f"inbound_workers: {workers}\n"
    s = load_settings(write(tmp_path, text))
    assert s.processes == processes
    assert s.workers == expected
