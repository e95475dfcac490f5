"""``gateway as2 keygen`` / ``gateway as2 cert`` run as a user runs them (the console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cryptography import x509

from gateway.as2.settings import As2OwnSettings, organization

GATEWAY = Path(sys.executable).with_name("gateway")


def run(*args, cwd, env=None):
    return subprocess.run([str(GATEWAY), "as2", *args], cwd=cwd, capture_output=True, timeout=60, env=env)


def test_keygen_then_cert_export_and_the_pair_loads_into_pyas2lib(tmp_path):
    r = run("keygen", "GATEWAY", "--org", "Example", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    key, crt = tmp_path / "var/as2/as2.key", tmp_path / "var/as2/as2.crt"
    assert key.stat().st_mode & 0o777 == 0o600 and "CN=GATEWAY" in info["subject"]
    exported = run("cert", cwd=tmp_path)
    assert exported.returncode == 0 and b"PRIVATE KEY" not in exported.stdout
    cert = x509.load_pem_x509_certificate(exported.stdout)
    assert (
        cert.subject.rfc4514_string().startswith("O=Example,CN=GATEWAY")
        or "CN=GATEWAY" in cert.subject.rfc4514_string()
    )
    der = run("cert", "--der", cwd=tmp_path)
    assert x509.load_der_x509_certificate(der.stdout).serial_number == cert.serial_number
    organization(As2OwnSettings(as2_id="GATEWAY", private_key=key.read_bytes(), certificate=crt.read_bytes()))
    again = run("keygen", "GATEWAY", cwd=tmp_path)
    assert again.returncode == 2 and b"--force" in again.stderr


def test_cert_of_a_bundle_never_exports_the_key(tmp_path):
    assert run("keygen", "X", cwd=tmp_path).returncode == 0
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes((tmp_path / "var/as2/as2.key").read_bytes() + (tmp_path / "var/as2/as2.crt").read_bytes())
    r = run("cert", "--cert", str(bundle), cwd=tmp_path)
    assert r.returncode == 0 and b"PRIVATE" not in r.stdout and b"BEGIN CERTIFICATE" in r.stdout
    bad = run("cert", "--cert", str(tmp_path / "missing.pem"), cwd=tmp_path)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr
