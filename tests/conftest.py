"""Suite-wide fixtures: the X12 test corpus (tests/corpus/x12, shipped with the repository), and real services
(PostgreSQL, OpenSSH) for integration tests.

Services that are missing make their tests skip locally and FAIL under CI=true (see support/services.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from gateway.store.repository import Store
from tests.support.postgres import reachable, reset_schema, scratch_database
from tests.support.services import unavailable
from tests.support.sshd import SshServer, sshd_available

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus" / "x12"  # see its PROVENANCE.md


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "PROVENANCE.md").is_file():
        pytest.fail(f"the X12 test corpus is missing at {CORPUS} (it ships with the repository)", pytrace=False)
    return CORPUS


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (dropped afterwards)."""
    reason = reachable()
    if reason:
        unavailable(reason)
    with scratch_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on both backends: SQLite (embedded) and PostgreSQL (several nodes)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    url: str = request.getfixturevalue("postgres_url")
    reset_schema(url)
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """The store on each backend, migrated to the head revision."""
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield Store(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A modern OpenSSH server on loopback (ed25519 host key)."""
    reason = sshd_available()
    if reason:
        unavailable(reason)
    server = SshServer.start(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()
