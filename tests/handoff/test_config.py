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
