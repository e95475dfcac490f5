"""AS2 tests: every store engine a test opened is disposed when it ends (no connection outlives its test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.as2.support import ENGINES


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    while ENGINES:
        ENGINES.pop().dispose()
