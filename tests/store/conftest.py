import pytest

from gateway.store.archive import Archive
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from gateway.store.repository import Store


@pytest.fixture
def store(database_url):
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def archive(tmp_path):
    return Archive(tmp_path / "archive")
