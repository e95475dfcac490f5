"""Acceptance: a newcomer adds a partner as docs/partners.md says, against a running `gateway serve`.

The commands below are the ones in the "Add a partner" section of docs/partners.md; the gateway is a real
process, and the partner is picked up by hot reload, without a restart.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.gateway_home import drop, make_home, wait_for
from tests.support.serve import GATEWAY, ServeProcess

REPO = Path(__file__).resolve().parents[2]


def doc_commands() -> list[list[str]]:
    """The `gateway ...` commands of the tutorial (also inside `$(...)`), as a shell would split them."""
    text = (REPO / "docs" / "partners.md").read_text()
    section = text.split("## Add a partner", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            inner = re.search(r"\$\((\.venv/bin/gateway [^)]*)\)", line)
            cmd = inner.group(1) if inner else line
            if cmd.startswith(".venv/bin/gateway "):
                commands.append(shlex.split(cmd)[1:])
    return commands


@pytest.mark.slow
def test_newcomer_adds_a_partner_following_the_docs(tmp_path, corpus):
    home = make_home(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    gw = ServeProcess(home, env={"GATEWAY_PARTNERS_RELOAD_SECONDS": "1"})
    try:
        gw.wait_healthy(timeout=15)
        commands = doc_commands()
        assert [c[:2] for c in commands] == [["partners", "new"], ["partners", "check"], ["apikey", "create"]]
        out = {}
        for args in commands:
            r = subprocess.run([str(GATEWAY), *args], cwd=home, env=env, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, (args, r.stdout, r.stderr)
            out[args[0], args[1]] = r.stdout
        assert "4 partner(s) valid, 0 error(s)" in out["partners", "check"]
        key = out["apikey", "create"].strip()
        inbox = home / "var" / "channels" / "summit-supply" / "inbound"
        wait_for(inbox.is_dir, timeout=10)  # picked up by the running gateway, no restart
        src = corpus / "856" / "node-x12-856-004060.edi"  # ISA 12/4405197800 -> 01/999999999, an 856
        drop(src, inbox)

        def acked():
            items = httpx.get(
                f"{gw.url}/api/messages", params={"partner": "summit-supply"}, headers={"X-API-Key": key}, timeout=5
            ).json()["items"]
            done = [m for m in items if m["file_name"] == src.name and m["status"] not in ("archived", "processing")]
            return done[0] if done else None

        msg = wait_for(acked, timeout=15)
        assert msg["status"] == "acked", msg
        assert (inbox / "processed" / src.name).read_bytes() == src.read_bytes()
        outbound = home / "var" / "channels" / "summit-supply" / "outbound"
        assert [p.name for p in outbound.iterdir() if p.name.startswith("summit-supply-997")]
        assert gw.proc.poll() is None  # the same process all along
        assert "partners.reloaded" in gw.output()
    finally:
        gw.stop()
