"""A gateway home for tests: a copy of the shipped config/ and partners/ in a temp folder (var/ inside it)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from gateway.store.states import Direction, MessageStatus

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


SHIPPED_PROCESSES = "inbound_processes: auto\n"


def make_home(base: Path, *, partners: bool = True) -> Path:
    """The shipped config with one inbound process (the shipped ``auto`` would start a worker process per core
    beside every ``gateway serve`` of the suite: tests of several processes ask for them, tests/processes/)."""
    shutil.copytree(REPO / "config", base / "config")
    cfg = base / "config" / "gateway.yaml"
    text = cfg.read_text()
    assert SHIPPED_PROCESSES in text, "config/gateway.yaml: the inbound_processes line tests pin to 1 is gone"
    cfg.write_text(text.replace(SHIPPED_PROCESSES, "inbound_processes: 1\n"))
    if partners:
        shutil.copytree(REPO / "partners", base / "partners")
    else:
        (base / "partners").mkdir()
    (base / "mappings").mkdir(exist_ok=True)
    return base


def drop(src: Path, inbox: Path, name: str | None = None) -> Path:
    """Copy a file into an inbox the way a partner would: write under a temporary name, then rename."""
    inbox.mkdir(parents=True, exist_ok=True)
    final = inbox / (name or src.name)
    tmp = inbox / f".{final.name}.part"
    shutil.copyfile(src, tmp)
    tmp.rename(final)
    return final


def wait_for(check: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


IN_FLIGHT = (MessageStatus.received, MessageStatus.archived, MessageStatus.processing)


def settled_message(gw: Any, file_name: str, timeout: float = 15.0) -> Any:
    """The inbound message read from ``file_name`` once the flow is done with it (any status past processing)."""

    def check() -> Any:
        for m in gw.store.list_messages(limit=200, direction=Direction.inbound).items:
            if m.file_name == file_name and m.status not in IN_FLIGHT:
                return m
        return None

    return wait_for(check, timeout=timeout)


@contextmanager
def idle_gateway(base: Path) -> Iterator[Any]:
    """A gateway on a fresh home in ``base``, not started (the test hands the flow its items itself), stopped
    afterwards."""
    from gateway.runtime import Gateway
    from gateway.settings import load_settings

    home = make_home(base)
    gw = Gateway(load_settings(home / "config" / "gateway.yaml"))
    try:
        yield gw
    finally:
        gw.stop()
