"""The running gateway: store, archive, partner registry and flows wired together, plus the channels' jobs.

:class:`Gateway` is what ``gateway serve`` runs and what integration tests start in-process. Construction
opens the store (applying migrations) and loads partners; :meth:`start` recovers unfinished work, then starts
polling and watching; :meth:`stop` stops them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.failpoints import FailPoints
from gateway.flows.acks import AckFlow
from gateway.flows.inbound import InboundFlow
from gateway.flows.outbound import OutboundFlow
from gateway.flows.polling import ChannelPoller
from gateway.logging import get_logger
from gateway.partners.loader import load_partners
from gateway.partners.registry import PartnerRegistry
from gateway.scheduler import Scheduler
from gateway.settings import Settings
from gateway.store.archive import Archive
from gateway.store.db import create_db_engine
from gateway.store.migrate import upgrade
from gateway.store.repository import Store
from gateway.transports.channels import inbound_folders, outbound_folders
from gateway.transports.watch import FolderWatcher
from gateway.transports.webhook import WebhookReceiver

log = get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_db_engine(settings.database)
        upgrade(self.engine)
        self.store = Store(self.engine)
        self.archive = Archive(settings.archive_path)
        self.registry = self._load_registry()
        self.outbound = OutboundFlow(
            store=self.store, archive=self.archive, channels=lambda p: outbound_folders(settings, p)
        )
        self.acks = AckFlow(store=self.store, archive=self.archive, outbound=self.outbound, own=settings.identity)
        self.inbound = InboundFlow(
            store=self.store,
            archive=self.archive,
            registry=lambda: self.registry,
            acks=self.acks,
            clock=utc_now,
            failpoints=FailPoints(settings.failpoints),
        )
        self.scheduler = Scheduler()
        self.watcher = FolderWatcher()
        self.pollers: list[ChannelPoller] = []
        self.webhooks: dict[str, WebhookReceiver] = {}  # partner id -> inbound webhook channel
        self.started = False

    def _load_registry(self) -> PartnerRegistry:
        partners, problems = load_partners(self.settings.partners_path)
        for problem in problems:
            log.error("partners.invalid", extra={"fields": {"problem": problem.describe()}})
        log.info(
            "partners.loaded",
            extra={"fields": {"count": len(partners), "folder": str(self.settings.partners_path)}},
        )
        return PartnerRegistry(partners, self.settings.identity)

    def start(self) -> None:
        resumed = self.inbound.recover()
        if resumed:
            log.info("recovery.done", extra={"fields": {"resumed": resumed}})
        for partner in self.registry:
            for folder in inbound_folders(self.settings, partner):
                folder.ensure_folders()
                poller = ChannelPoller(folder, self.inbound, self.scheduler)
                self.scheduler.add_interval(poller.job_id, poller.run, self.settings.folder.sweep_seconds)
                self.watcher.watch(folder.path, poller.wake)
                self.pollers.append(poller)
            for out in outbound_folders(self.settings, partner):
                out.path.mkdir(parents=True, exist_ok=True)
        self.watcher.start()
        self.scheduler.start()
        self.started = True
        log.info("gateway.started", extra={"fields": {"channels": [p.channel.channel for p in self.pollers]}})

    def stop(self) -> None:
        if self.started:
            self.watcher.stop()
            self.scheduler.stop()
            self.started = False
        self.engine.dispose()
        log.info("gateway.stopped")
