"""Fixtures of the kill -9 tests (``gateway serve`` killed at a fail point, then restarted on the same home)."""

from __future__ import annotations

import pytest

from tests.support.gateway_home import make_home


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


@pytest.fixture
def db_env(database_url):
    """SQLite in the home's var/ (the embedded default), or a fresh PostgreSQL schema (several-node setups). On
    PostgreSQL the inbox is a shared folder: the restarted process (a new node id) takes over the file the killed one
    had claimed once that claim is stale, here after 5 s instead of the default minute."""
    if database_url.startswith("sqlite"):
        return {}
    return {"GATEWAY_DATABASE_URL": database_url, "GATEWAY_FOLDER__CLAIM_STALE_SECONDS": "5"}
