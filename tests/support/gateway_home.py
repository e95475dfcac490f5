"""A gateway home for tests: a copy of the shipped config/ and partners/ in a temp folder (var/ inside it)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def make_home(base: Path, *, partners: bool = True) -> Path:
    shutil.copytree(REPO / "config", base / "config")
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
