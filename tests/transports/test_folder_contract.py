"""The folder channel passes the contract suite (network tests do not apply to a local folder)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gateway.transports.folder import FolderInbound, FolderOutbound
from tests.transports.contract import Harness, InboundContract, OutboundContract


class FolderHarness(Harness):
    networked = False

    def __init__(self, base: Path) -> None:
        self.inpath = base / "in"
        self.outpath = base / "out"
        self.inpath.mkdir(parents=True)
        self.outpath.mkdir(parents=True)

    def inbound(self, *, unreachable=False, bad_credentials=False):
        return FolderInbound(channel="p/folder", path=self.inpath, partner_id="p", min_age_seconds=0.2)

    def outbound(self, *, unreachable=False, bad_credentials=False):
        return FolderOutbound(channel="p/folder", path=self.outpath)

    def drop(self, name, data, *, complete=True):
        p = self.inpath / name
        p.write_bytes(data)
        # a complete file was last written an hour ago; one still being written was modified just now (here:
        # its time is in the future, so it stays "just written" for as long as the test runs)
        t = time.time() + (-3600 if complete else 3600)
        os.utime(p, (t, t))

    def inbox(self):
        return {p.name for p in self.inpath.iterdir() if p.is_file()}

    def processed(self):
        d = self.inpath / "processed"
        return {p.name: p.read_bytes() for p in d.iterdir()} if d.is_dir() else {}

    def failed(self):
        d = self.inpath / "failed"
        return {p.name for p in d.iterdir()} if d.is_dir() else set()

    def outbox(self):
        return {p.name: p.read_bytes() for p in self.outpath.iterdir()}


class TestFolderInbound(InboundContract):
    @pytest.fixture
    def harness(self, tmp_path):
        return FolderHarness(tmp_path)


class TestFolderOutbound(OutboundContract):
    @pytest.fixture
    def harness(self, tmp_path):
        return FolderHarness(tmp_path)
