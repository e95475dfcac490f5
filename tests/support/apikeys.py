"""Create API keys the way an operator does: ``gateway apikey create`` run in the gateway's home."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.serve import GATEWAY


def create_key(home: Path, *, name: str = "tests", role: str = "admin", env: dict[str, str] | None = None) -> str:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    full_env.update(env or {})
    out = subprocess.run(
        [str(GATEWAY), "apikey", "create", "--name", name, "--role", role],
        cwd=home, env=full_env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    token = out.stdout.strip()
    assert token.startswith("gw_"), out
    return token
