"""One gateway process polling one SFTP channel on a shared PostgreSQL store (used by test_scheduling.py).

Usage: python -m tests.transports.poll_worker CONFIG.json
CONFIG: home, database_url, archive_dir, sftp (SftpSettings fields), channel, start_at, run_seconds, picks, lock.
Every item the flow opens (downloads) is appended to ``picks`` as "<pid> <name>".
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from gateway.flows.channel_jobs import ChannelJob, ChannelJobs, LockedPoller
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.locks import ChannelLocks
from gateway.transports.sftp import SftpInbound, SftpItem, SftpSettings


class RecordingInbound(SftpInbound):
    def __init__(self, *a, picks: Path, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.picks = picks

    def poll(self):  # type: ignore[no-untyped-def]
        items, wait = super().poll()
        for item in items:
            item.open = _recording(item, self.picks)  # type: ignore[method-assign]
        return items, wait


def _recording(item: SftpItem, picks: Path):  # type: ignore[no-untyped-def]
    original = SftpItem.open

    def open_():  # type: ignore[no-untyped-def]
        with open(picks, "a") as f:
            f.write(f"{os.getpid()} {item.name}\n")
        time.sleep(0.05)  # a slow download widens the window in which a second poller could take the same file
        return original(item)

    return open_


class NoLocks(ChannelLocks):
    @contextmanager
    def hold(self, name):  # type: ignore[no-untyped-def,override]
        yield True


def main(config_file: str) -> None:
    cfg = json.loads(Path(config_file).read_text())
    settings = load_settings(
        Path(cfg["home"]) / "config" / "gateway.yaml",
        database_url=cfg["database_url"],
        archive_dir=cfg["archive_dir"],
        data_dir=cfg["data_dir"],
    )
    gw = Gateway(settings)
    locks = ChannelLocks(gw.engine) if cfg["lock"] else NoLocks(gw.engine)
    jobs = ChannelJobs(gw.scheduler, gw.inbound, locks, poller=LockedPoller)
    sftp = SftpSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg["sftp"].items()})
    inbound = RecordingInbound(sftp, channel=cfg["channel"], partner_id="acme-retail", picks=Path(cfg["picks"]))
    time.sleep(max(0.0, cfg["start_at"] - time.time()))
    jobs.sync({cfg["channel"]: ChannelJob(inbound, 0.2, sftp)})
    gw.scheduler.start()
    time.sleep(cfg["run_seconds"])
    gw.scheduler.stop()
    gw.engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
