"""The real services the integration tests rely on are there (CI=true fails when they are not)."""

from __future__ import annotations

import subprocess

import pytest
import sqlalchemy as sa


@pytest.mark.postgres
def test_postgres_scratch_database_is_usable(postgres_url):
    eng = sa.create_engine(postgres_url)
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT current_database()")).scalar().startswith("gw_test_")
    eng.dispose()


@pytest.mark.sftp
def test_openssh_server_serves_sftp_with_a_pinned_host_key(sshd_server, tmp_path):
    (sshd_server.root / "hello.txt").write_bytes(b"hello\r\n")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd_server.port} {sshd_server.host_key_pub.read_text()}")
    batch = tmp_path / "batch"
    batch.write_text("ls\nget hello.txt " + str(tmp_path / "got.txt") + "\n")
    out = subprocess.run(
        [
            "sftp",
            "-q",
            "-b",
            str(batch),
            "-P",
            str(sshd_server.port),
            "-i",
            str(sshd_server.client_key),
            "-o",
            f"UserKnownHostsFile={known}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            f"{sshd_server.user}@127.0.0.1",
        ],
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr.decode()
    assert (tmp_path / "got.txt").read_bytes() == b"hello\r\n"
