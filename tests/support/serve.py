"""Run ``gateway serve`` as a real process (the console script in the test's virtualenv) on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.sshd import free_port

GATEWAY = Path(sys.executable).with_name("gateway")


class ServeProcess:
    def __init__(self, home: Path, *, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / f"serve-{self.port}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        full_env.update(
            {
                "GATEWAY_API_PORT": str(self.port),
                "GATEWAY_FOLDER__MIN_AGE_SECONDS": "0.5",
                "GATEWAY_FOLDER__SWEEP_SECONDS": "2",
            }
        )
        full_env.update(env or {})
        self._out = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(GATEWAY), "serve"], cwd=home, env=full_env, stdout=self._out, stderr=subprocess.STDOUT
        )
        self.started = time.monotonic()

    def wait_healthy(self, timeout: float = 30.0) -> float:  # generous: 2 shared cores under a full suite
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=0.5).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"/api/health not 200 within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_exit(self, timeout: float = 15.0) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def killed_at(home: Path, point: str, act: Callable[[ServeProcess], object], *, env: dict[str, str] | None = None,
              timeout: float = 60.0) -> None:
    """Run ``gateway serve`` with the fail point ``point`` set to ``kill``, do ``act`` to it once it is healthy (drop
    a file in its inbox ...), and wait until it has died of SIGKILL at that point (a kill -9 test's first half)."""
    first = ServeProcess(home, env={**(env or {}), "GATEWAY_FAILPOINTS": f"{point}=kill"})
    try:
        first.wait_healthy(timeout=60)
        act(first)
        assert first.wait_exit(timeout=timeout) == -9, first.output()  # SIGKILL, at the fail point
    finally:
        first.stop()
