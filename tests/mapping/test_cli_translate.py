"""`gateway translate`: format detection, partner overrides and envelope, tolerant reading, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", "translate", *args], cwd=cwd, capture_output=True,
                          timeout=120, check=False)


def test_x12_to_canonical_prints_the_golden_documents_and_warnings_on_stderr():
    sample = ROOT / "samples/x12/856/coedition-856-pipe-sloppy-isa.edi"
    result = run(str(sample), "--to", "canonical")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(sample.with_suffix(".canonical.json").read_text())
    assert b"ISA06" in result.stderr  # the sloppy envelope is reported, and still maps


def test_canonical_to_x12_with_the_partner_envelope_and_overrides(tmp_path: Path):
    canonical = run("samples/x12/214/alink-carrier-status.edi", "--to", "canonical", "--partner", "alink-carrier")
    assert b'"status_code": "arrived_at_pickup"' in canonical.stdout
    src = tmp_path / "status.json"
    src.write_bytes(canonical.stdout)
    result = run(str(src), "--to", "x12", "--partner", "alink-carrier")
    assert result.returncode == 0, result.stderr  # written back with the X12 codes, valid 004010
    assert result.stdout.startswith(b"ISA*00*          *00*          *ZZ*TRICOLINKS     *02*ALNK           *")
    assert b"AT7*X3*NS" in result.stdout and b"AT7*X4*NS" in result.stdout


def test_csv_to_xml_to_canonical(tmp_path: Path):
    csv_out = run("samples/x12/940/ediengine-940-ok.edi", "--to", "csv")
    (tmp_path / "o.csv").write_bytes(csv_out.stdout)
    xml_out = run(str(tmp_path / "o.csv"), "--to", "xml")
    assert xml_out.returncode == 0, xml_out.stderr
    (tmp_path / "o.xml").write_bytes(xml_out.stdout)
    back = run(str(tmp_path / "o.xml"), "--to", "canonical")
    (doc,) = json.loads(back.stdout)["documents"]
    assert doc["order_number"] == "538686" and [ln["quantity"] for ln in doc["lines"]] == ["12", "32", "12"]


def test_unmappable_set_exits_1_and_is_listed(tmp_path: Path):
    bad = tmp_path / "bad.edi"
    bad.write_bytes(b"ST*940*0001~W05*N**PO1~SE*3*0001~ST*940*0002~W05*N*ORD2~SE*3*0002~")
    result = run(str(bad), "--to", "canonical")
    assert result.returncode == 1
    docs = json.loads(result.stdout)["documents"]
    assert docs[0]["error"]["location"]["field"] == "order_number" and docs[1]["order_number"] == "ORD2"
    assert b"W05" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path):
    assert run("samples/x12/940/ediengine-940-ok.edi", "--to", "pdf").returncode == 2
    assert run(str(tmp_path / "missing.edi"), "--to", "canonical").returncode == 2


def test_x12_output_is_validated_and_findings_go_to_stderr(tmp_path: Path):
    src = tmp_path / "shipment.json"
    src.write_text(json.dumps({"documents": [{"type": "shipment", "shipment_id": "S1",
                                              "orders": [{"purchase_order": "PO1", "lines": [
                                                  {"quantity_shipped": "2", "uom": "EA"}]}]}]}))
    result = run(str(src), "--to", "x12")
    assert result.returncode == 1, result.stderr  # invalid output: written for inspection, and exit 1
    assert b"~BSN*" in result.stdout.replace(b"\n", b"")
    assert b"BSN03" in result.stderr  # the record has no document date: BSN03/BSN04 are mandatory


def test_partner_envelope_identity_version_and_source_set(tmp_path: Path):
    """Item 7 of issue 11: our ISA id from our identity (never SENDER), `envelope:` honoured, GS08 the declared
    version, a shipment read from a 945 written back as a 945 without --set, and as a valid 856 on request."""
    src = ROOT / "tests/outbound/shipment.json"  # from the real 945 x12types-945-waqe, its ship-from named
    back = run("samples/x12/945/x12types-945-5010-envelope.edi", "--to", "x12", "--partner", "acme-retail")
    text = back.stdout.decode()
    assert "*ZZ*TESTTPLEDI     *08*925119TEST     *" in text and "SENDER" not in text
    assert "ST*945*0001" in text and "*X*004010UCS~" in text, text[:300]
    asn = run(str(src), "--to", "x12", "--partner", "acme-retail", "--set", "856")
    assert asn.returncode == 0, asn.stderr
    assert b"*X*004010VICS~" in asn.stdout and b"BSN*00*" in asn.stdout and b"DTM*10*" not in asn.stdout
    plain = run(str(src), "--to", "x12")
    assert b"SENDER" not in plain.stdout[:110]  # without a partner: our identity from config/gateway.yaml
