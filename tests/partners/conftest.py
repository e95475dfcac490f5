from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from tests.support.gateway_home import make_home


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    def __call__(self, *args: str):
        return self.runner.invoke(app, [*args, "--config", str(self.home / "config" / "gateway.yaml")])

    def partner(self, name: str, text: str) -> Path:
        path = self.home / "partners" / name
        path.write_text(text)
        return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(__import__("os").environ):
        if key.startswith("GATEWAY_"):
            monkeypatch.delenv(key)
    return make_home(tmp_path / "home")


@pytest.fixture
def cli(home: Path) -> Cli:
    return Cli(home)
