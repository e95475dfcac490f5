"""Two (or three) gateway nodes in one test process on one PostgreSQL database and one shared home.

Each node is a :class:`~gateway.runtime.Gateway` with its own engine (so its own PostgreSQL sessions: advisory
locks and row locks are really contended) and its own node id (in one process ``gateway.node.node_id()`` is shared,
so the test gives each node its name). Every test gets a fresh database of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.support.gateway_home import make_home
from tests.support.postgres import reachable, scratch_database
from tests.support.services import unavailable


@pytest.fixture
def pg_url() -> Iterator[str]:
    reason = reachable()
    if reason:
        unavailable(reason)
    with scratch_database("gw_nodes") as url:
        yield url


@pytest.fixture
def shared_home(tmp_path: Path) -> Path:
    return make_home(tmp_path / "home")


def name_node(gw: Gateway, name: str) -> Gateway:
    gw.leases.owner = f"{name}"
    gw.document_leases.owner = f"{name}"
    gw.nodes.node = name
    gw.handoff.owner = name
    gw.service_levels.owner = name
    return gw


@pytest.fixture
def make_node(shared_home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Gateway]]:
    monkeypatch.chdir(shared_home)
    made: list[Gateway] = []

    def make(name: str, **overrides: object) -> Gateway:
        settings = load_settings(shared_home / "config" / "gateway.yaml", home=shared_home, database_url=pg_url,
                                 **overrides)
        gw = name_node(Gateway(settings), name)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.stop()
