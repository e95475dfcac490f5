"""Fixtures of the foundation tests that hand the inbound flow its items themselves."""

from __future__ import annotations

import pytest

from tests.support.gateway_home import idle_gateway


@pytest.fixture
def gateway(tmp_path):
    """A gateway on a fresh home, not started: the test hands the batch itself (a module may define its own)."""
    with idle_gateway(tmp_path) as gw:
        yield gw
