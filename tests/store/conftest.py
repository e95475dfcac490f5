import pytest

from gateway.store.archive import Archive


@pytest.fixture
def archive(tmp_path):
    return Archive(tmp_path / "archive")
