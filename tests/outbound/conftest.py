from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.support.gateway_home import make_home

HERE = Path(__file__).parent


def shipment(**changes) -> dict:  # type: ignore[no-untyped-def]
    """A shipment as a 3PL's system would submit it (from a real 945: x12types-945-waqe, its ship-from named)."""
    data = json.loads((HERE / "shipment.json").read_text())
    data.update(changes)
    return data


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path)


@pytest.fixture
def gateway(home: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(home)
    gw = Gateway(load_settings(home / "config" / "gateway.yaml", home=home))
    yield gw
    gw.stop()
