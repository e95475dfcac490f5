"""AS2 tests: every store engine a test opened is disposed when it ends (no connection outlives its test)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.as2.support import ENGINES


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    while ENGINES:
        ENGINES.pop().dispose()


@pytest.fixture(autouse=True)
def _streaming_for_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """GATEWAY_TEST_AS2_STREAM_ALL=1 runs every in-process receive through the streaming parse (the threshold
    at -1), so the whole AS2 suite checks it behaves as the pyas2lib parse does."""
    if os.environ.get("GATEWAY_TEST_AS2_STREAM_ALL") == "1":
        from gateway.as2 import receive

        monkeypatch.setattr(receive, "STREAM_ABOVE", -1)
