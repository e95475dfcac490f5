"""The hand-off file: validated like partner files (file:line: field: what), secrets only by reference, a published
JSON Schema kept equal to the models, the shipped file valid, a bad edit keeping the last good configuration."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from gateway.handoff.config import check_source, handoff_schema, load_handoff
from tests.handoff.conftest import REPO
from tests.support.serve import GATEWAY

BAD = """\
destinations:
  - name: wms
    type: webhook
    url: https://wms.example/events
    secret: s3cr3t-literal
  - {name: bus, type: rabbitmq, exchange: edi, routing_key: "{partner}.{colour}"}
  - {name: drop, type: folder, path: out, fromat: csv}
routes:
  - {record_types: [order], to: [wms, nowhere]}
"""


def test_shipped_file_is_valid_and_schema_is_published():
    assert check_source(REPO / "config" / "handoff.yaml") == []
    published = json.loads((REPO / "docs" / "handoff.schema.json").read_text())
    assert published == handoff_schema(), "run: gateway handoff schema -o docs/handoff.schema.json"


def test_every_problem_names_file_line_and_field(tmp_path):
    path = tmp_path / "handoff.yaml"
    path.write_text(BAD)
    problems = check_source(path)
    text = "\n".join(problems)
    assert f"{path}:5: destinations[0].secret:" in text and "literal secret is not allowed" in text
    assert f"{path}:6:" in text and "colour" in text
    assert f"{path}:7:" in text and "fromat" in text
    # a route to an unknown destination (checked once the destinations themselves are valid)
    path.write_text("destinations: [{name: wms, type: pull}]\nroutes:\n  - {to: [wms, nowhere]}\n")
    assert any("'nowhere', which is not a destination (wms)" in p for p in check_source(path))


def test_cli_check_exits_1_with_the_problems(tmp_path):
    path = tmp_path / "handoff.yaml"
    path.write_text(BAD)
    out = subprocess.run([str(GATEWAY), "handoff", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and f"{path}:5" in out.stderr
    ok = subprocess.run([str(GATEWAY), "handoff", "check", str(REPO / "config" / "handoff.yaml")],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr


def test_routes_match_by_partner_record_type_and_set():
    cfg = load_handoff_text("""
destinations: [{name: a, type: pull}, {name: b, type: pull}, {name: c, type: pull}]
routes:
  - {partners: [acme-retail], record_types: [order], to: [a]}
  - {sets: ["214"], to: [b, a]}
  - {record_types: [ack], to: [c]}
""")
    assert cfg.route("acme-retail", "order", "940") == ["a"]
    assert cfg.route("other", "order", "940") == []
    assert cfg.route("alink-carrier", "status", "214") == ["b", "a"]
    assert cfg.route("acme-retail", "ack", "945") == ["c"]


def load_handoff_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "h.yaml"
        p.write_text(text)
        return load_handoff(p)


def test_a_bad_edit_keeps_the_last_good_configuration(home):
    from tests.handoff.conftest import start_gateway, write_handoff

    write_handoff(home, {"destinations": [{"name": "erp", "type": "pull"}], "routes": [{"to": ["erp"]}]})
    gw = start_gateway(home)
    try:
        (home / "config" / "handoff.yaml").write_text("destinations: [{name: erp, type: carrier-pigeon}]\n")
        assert not gw.handoff.reload()
        assert gw.handoff.config.pull_destinations() == ["erp"]
    finally:
        gw.stop()


def test_destination_and_intake_share_one_broker_connection(tmp_path):
    """The connection keys are flat beside each block's own keys, as files already written have them; both blocks
    read them through one model and turn them into the same connection settings."""
    from gateway.handoff.config import RabbitMQConnection
    from gateway.handoff.destinations.rabbitmq import amqp_settings

    (tmp_path / "RABBIT_PASSWORD").write_text("pw-from-file\n")
    connection = ("host: rabbit.internal, port: 5673, virtual_host: /edi, username: edi, "
                  "password: {secret: RABBIT_PASSWORD}, timeout: 3s")
    cfg = load_handoff_text(f"""
destinations:
  - {{name: bus, type: rabbitmq, {connection}, exchange: edi}}
intake:
  - {{name: wms-out, type: rabbitmq, {connection}, queue: edi-outbound}}
""")
    bus, intake = cfg.destinations[0], cfg.intake[0]
    assert isinstance(bus, RabbitMQConnection) and isinstance(intake, RabbitMQConnection)
    fields = set(RabbitMQConnection.model_fields)
    assert fields == {"host", "port", "virtual_host", "username", "password", "timeout"}
    assert bus.model_dump(include=fields) == intake.model_dump(include=fields)
    settings = amqp_settings(bus, secrets_dir=tmp_path)
    assert settings == amqp_settings(intake, secrets_dir=tmp_path)
    assert (settings.host, settings.port, settings.virtual_host, settings.username, settings.password,
            settings.timeout_seconds) == ("rabbit.internal", 5673, "/edi", "edi", "pw-from-file", 3.0)
    # a mistyped connection key is still refused in either block, with its line
    path = tmp_path / "h.yaml"
    path.write_text("intake:\n  - {name: a, type: rabbitmq, queue: q, hostname: x}\n")
    assert any(p.startswith(f"{path}:2: intake[0]") and "hostname" in p for p in check_source(path))
    path.write_text("destinations:\n  - {name: a, type: rabbitmq, port: 0}\n")
    assert any(p.startswith(f"{path}:2: destinations[0]") and "port" in p for p in check_source(path))
