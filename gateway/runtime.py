"""The running gateway: store, archive, partner registry and flows wired together, plus the channels' jobs.

:class:`Gateway` is what ``gateway serve`` runs and what integration tests start in-process. Construction
opens the store (applying migrations) and loads partners; :meth:`start` recovers unfinished work, then starts
polling and watching; :meth:`stop` stops them.

``role="inbound"`` is an inbound worker process (:mod:`gateway.processes`): the same wiring, but :meth:`start`
starts only the partners' folder inboxes (shared with the parent and the other workers) and the partner-file reload;
no recovery at start, no sweeps, no outbound retries, AS2, webhooks, SFTP or broker intake.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from gateway.as2.names import ASYNC_MDN_JOB, as2_configured
from gateway.errors import ConfigError, InvalidActionError
from gateway.failpoints import FailPoints
from gateway.flows.acks import AckFlow
from gateway.flows.broker_intake import BrokerIntakes
from gateway.flows.business import Timelines
from gateway.flows.channel_jobs import ChannelJobs
from gateway.flows.documents import DocumentFlow
from gateway.flows.duplicates import DuplicateCheck
from gateway.flows.file_documents import FileDocuments
from gateway.flows.handoff import HandoffFlow
from gateway.flows.inbound import InboundFlow
from gateway.flows.mapping_step import MappingStep
from gateway.flows.notify import to_notifier
from gateway.flows.outbound import OutboundFlow
from gateway.flows.outbox import OutboxIntake
from gateway.flows.overdue import OverdueAcks
from gateway.flows.partner_channels import PartnerChannels
from gateway.flows.polling import ChannelPoller
from gateway.flows.reconcile import Reconciler
from gateway.flows.remote_channels import RemoteChannels, outbound_remote
from gateway.flows.retry import DeliveryRetries, RetryPolicy
from gateway.flows.service_levels import ServiceLevelJob
from gateway.logging import get_logger
from gateway.node import node_id
from gateway.notify.notifier import Notifier
from gateway.partners.registry import PartnerRegistry
from gateway.partners.reload import PartnerFolder
from gateway.partners.schema import Partner
from gateway.scheduler import Scheduler
from gateway.settings import Settings
from gateway.store.archive import Archive
from gateway.store.db import create_db_engine
from gateway.store.leases import MessageLeases
from gateway.store.locks import ChannelLocks
from gateway.store.migrate import upgrade
from gateway.store.models import Message
from gateway.store.nodes import NodeRegistry
from gateway.store.repository import Store
from gateway.store.retention import PurgeResult, purge_archive
from gateway.transports.channels import outbound_folders
from gateway.transports.watch import FolderWatcher
from gateway.transports.webhook import WebhookReceiver

if TYPE_CHECKING:
    from gateway.as2.service import As2Service
    from gateway.processes.supervisor import WorkerProcesses
    from gateway.transports.base import Outbound

log = get_logger(__name__)
PURGE_EVERY_SECONDS = 6 * 3600
RETRY_SWEEP_SECONDS = 10.0  # how often due outbound retries are looked for
RECOVER_SWEEP_SECONDS = 15.0  # how often submissions whose worker died (lease run out) are resumed


def utc_now() -> datetime:
    return datetime.now(UTC)


def retry_policy(partner: Partner) -> RetryPolicy:
    """The partner file's ``retry:`` as the delivery retry policy."""
    r = partner.retry
    return RetryPolicy(
        attempts=r.attempts,
        backoff_seconds=r.backoff.total_seconds(),
        factor=r.multiplier,
        max_backoff_seconds=r.max_backoff.total_seconds(),
    )


def _as2_service(gw: Gateway) -> As2Service | None:
    """The AS2 service (:func:`gateway.as2.runtime.as2_service`), its modules imported only when AS2 is configured
    (they cost about 15 MB of memory: :mod:`gateway.as2.names`)."""
    if not as2_configured(gw.settings):
        return None
    from gateway.as2.runtime import as2_service

    return as2_service(gw)


def _outbound_as2(gw: Gateway, partner: Partner) -> list[Outbound]:
    """The partner's outbound AS2 channels (:func:`gateway.as2.runtime.outbound_as2`); none, and no AS2 import,
    for a partner without one."""
    if not partner.channels_for("outbound", "as2"):
        return []
    from gateway.as2.runtime import outbound_as2

    return outbound_as2(gw, partner)


class Gateway:
    def __init__(self, settings: Settings, *, role: Literal["main", "inbound"] = "main",
                 parent: str | None = None) -> None:
        self.settings = settings
        self.role = role
        self.engine = create_db_engine(settings.database)
        upgrade(self.engine)
        self.store = Store(self.engine)
        self._job_locks = ChannelLocks(self.engine)
        # several nodes (docs/operations.md): messages in flight are leased to this node, renewed by its heartbeat
        outbound_lease = timedelta(seconds=settings.outbound_lease_seconds)
        # SQLite shared with inbound worker processes: other owners are not all dead, the registry says who is
        alone = settings.sqlite and settings.processes == 1
        self.leases = MessageLeases(self.engine, lease=timedelta(seconds=settings.lease_seconds), single_node=alone)
        self.document_leases = MessageLeases(self.engine, lease=outbound_lease, single_node=alone)
        failpoints = FailPoints(settings.failpoints)
        self.archive = Archive(settings.archive_path, failpoints=failpoints)
        self.partner_folder = PartnerFolder(settings.partners_path)
        self.registry = self._load_registry()
        self.outbound = OutboundFlow(
            store=self.store,
            archive=self.archive,
            channels=lambda p: [
                *outbound_folders(settings, p),
                *outbound_remote(p, secrets_dir=settings.secrets_path),
                *_outbound_as2(self, p),
            ],
            failpoints=failpoints,
        )
        self.retries = DeliveryRetries(
            store=self.store,
            outbound=self.outbound,
            policy=retry_policy,
            partner=lambda pid: self.registry.get(pid),
            clock=utc_now,
            lock=lambda: self._job_locks.hold("delivery.retries"),  # one sweeping process per store
            leases=self.document_leases,  # and each message claimed before it is sent
            lease=outbound_lease,
        )
        self.acks = AckFlow(
            store=self.store, archive=self.archive, outbound=self.retries, own=settings.identity, failpoints=failpoints
        )
        self.handoff = HandoffFlow(
            store=self.store,
            archive=self.archive,
            config_file=settings.handoff_path,
            data_dir=settings.data_path,
            secrets_dir=settings.secrets_path,
            clock=utc_now,
            failpoints=failpoints,
        )
        self.inbound = InboundFlow(
            store=self.store,
            archive=self.archive,
            registry=lambda: self.registry,
            acks=self.acks,
            clock=utc_now,
            failpoints=failpoints,
            quote_data=settings.edge.quote_data_in_reasons,
            handoff=self.handoff,
            files=FileDocuments(store=self.store, archive=self.archive, mappings_root=settings.mappings_path),
            mapping=MappingStep(
                store=self.store,
                archive=self.archive,
                mappings_root=settings.mappings_path if (settings.mappings_path / "x12").is_dir() else None,
                overrides_dir=settings.partners_path,
                failpoints=failpoints,
                split_bytes=int(settings.mapping_split_mb * (1 << 20)) or None,
            ),
            reconciler=Reconciler(store=self.store, archive=self.archive, announce=self.handoff.announce_ack_outcome),
            duplicates=DuplicateCheck(
                store=self.store, archive=self.archive, outbound=self.retries, clock=utc_now, failpoints=failpoints
            ),
            leases=self.leases,
        )
        self.handoff.leases = self.leases
        self.overdue = OverdueAcks(
            store=self.store,
            outbound=self.retries,
            partner=lambda pid: self.registry.get(pid),
            clock=utc_now,
            failpoints=failpoints,
            notify=to_notifier(lambda: getattr(self, "notifier", None)),  # the notifier is made further down
            announce=self.handoff.announce_ack_outcome,
        )
        self.documents = DocumentFlow(
            store=self.store,
            archive=self.archive,
            registry=lambda: self.registry,
            outbound=self.retries,
            own=settings.identity,
            clock=utc_now,
            failpoints=failpoints,
            mappings_root=settings.mappings_path if (settings.mappings_path / "x12").is_dir() else None,
            overrides_dir=settings.partners_path,
            lease=outbound_lease,
            leases=self.document_leases,
        )
        self.intake = BrokerIntakes(documents=self.documents, config=lambda: self.handoff.config,
                                    secrets_dir=settings.secrets_path, failpoints=failpoints)  # intake: in handoff.yaml
        if self.inbound.mapping is not None:
            self.inbound.mapping.quote_data = settings.edge.quote_data_in_reasons
        self.handoff.remap = self._remap
        self.handoff.busy = self.inbound.working.__contains__  # no second mapping of a file still being mapped
        self.scheduler = Scheduler()
        self.watcher = FolderWatcher()
        self.channels = PartnerChannels(
            settings, self.inbound, self.scheduler, self.watcher,
            outbox=OutboxIntake(self.documents) if role == "main" else None,
        )
        # None unless identity.as2_id and AS2 certificates are configured (and never in an inbound worker)
        self.as2 = _as2_service(self) if role == "main" else None
        self._reload_lock = threading.Lock()
        self.channel_jobs = ChannelJobs(self.scheduler, self.inbound, ChannelLocks(self.engine))
        self.remote = RemoteChannels(self.channel_jobs, secrets_dir=settings.secrets_path)
        self.webhooks: dict[str, WebhookReceiver] = self.remote.webhooks  # partner id -> inbound webhook channel
        self.notifier = Notifier(
            settings.notifications,
            self.engine,
            gateway_name=settings.identity.name,
            secrets_dir=settings.secrets_path,
        )  # gw.notifier.notify(kind, key=..., subject=..., text=...): see gateway/notify/__init__.py
        self._notify_observer: Any = None
        self.timelines = Timelines(self.store, self.archive, lambda pid: self.registry.get(pid))
        self.service_levels = ServiceLevelJob(
            timelines=self.timelines, handoff=self.handoff, notifier=self.notifier, clock=utc_now,
            failpoints=failpoints, ui_base=f"http://{settings.api_host}:{settings.api_port}",
        )  # orders and shipments: docs/operations.md, "Orders and shipments"
        heartbeat = min(settings.node_heartbeat_seconds, settings.lease_seconds / 3,
                        settings.outbound_lease_seconds / 3)
        # with inbound worker processes, the parent and its workers are one family (NodeRegistry.family)
        family = parent if role == "inbound" else (node_id() if settings.processes > 1 else None)
        self.nodes = NodeRegistry(self.engine, heartbeat=timedelta(seconds=heartbeat),
                                  leases=[self.leases, self.document_leases], jobs=self.scheduler.running,
                                  family=family)
        for leases in (self.leases, self.document_leases):
            leases.gone = self.nodes.gone_ids  # a dead node's leases are taken without waiting for them to run out
        self.channels.gone = self.nodes.gone_ids  # and its claims on shared inbox folders, without the stale time
        self.workers: WorkerProcesses | None = None  # the inbound worker processes (inbound_processes > 1)
        self.started = False

    def _sweep(self, job_id: str, func: Callable[[], Any]) -> Callable[[], Any]:
        """``func`` as a whole-store sweep: run by one node at a time (an advisory lock on PostgreSQL); the other
        nodes skip that run."""

        def run() -> Any:
            with self._job_locks.hold(f"job:{job_id}") as mine:
                return func() if mine else None

        return run

    @property
    def pollers(self) -> list[ChannelPoller]:
        return self.channels.pollers

    def _load_registry(self) -> PartnerRegistry:
        refresh = self.partner_folder.refresh()
        for problem in refresh.problems:
            log.error("partners.invalid", extra={"fields": {"problem": problem.render()}})
        log.info(
            "partners.loaded",
            extra={"fields": {"count": len(refresh.partners), "folder": str(self.settings.partners_path)}},
        )
        return PartnerRegistry(refresh.partners, self.settings.identity)

    def _remap(self, msg: Message) -> None:
        """Run the mapping step for a message a crash caught before it (hand-off recovery)."""
        partner = self.registry.get(msg.partner_id) if msg.partner_id else None
        if partner is not None and self.inbound.mapping is not None and msg.document_format in (None, "x12"):
            self.inbound.mapping.run(msg, partner)

    def reload_partners(self) -> bool:
        """Apply changed partner files (hot reload). Invalid edits are logged and the last good version kept."""
        with self._reload_lock:
            refresh = self.partner_folder.refresh()
            for problem in refresh.problems:
                log.error("partners.rejected", extra={"fields": {"problem": problem.render()}})
            for path in refresh.kept:
                log.warning("partners.kept_last_good", extra={"fields": {"file": str(path)}})
            if not refresh.changed:
                return False
            old, new = self.registry, PartnerRegistry(refresh.partners, self.settings.identity)
            self.registry = new  # one reference swap: work in flight keeps the registry it started with
            changes = self.channels.apply(old, new) if self.started else {}
            if self.started:
                changes = {**changes, **{f"remote_{k}": v for k, v in self.remote.apply(new).items()}}
            log.info("partners.reloaded", extra={"fields": {"count": len(new), **changes}})
            return True

    def start(self) -> None:
        if self.role == "inbound":
            self._start_inbound()
            return
        self.nodes.start()  # registered (and heartbeating) before recovery: the other nodes see this one live
        if self.settings.sqlite and self.settings.processes > 1:
            self.nodes.retire_others()  # one node's store: every other row is a crashed earlier run (its workers)
        cleaned = self.archive.clean_incoming()  # temporary files a crash left in the archive
        if cleaned:
            log.info("archive.cleaned", extra={"fields": {"temporary_files": len(cleaned)}})
        resumed = self.inbound.recover(startup=True)  # only messages whose lease ran out: never a live node's
        if resumed:
            log.info("recovery.done", extra={"fields": {"resumed": resumed}})
        sent = self.documents.recover(startup=True)
        if sent:
            log.info("recovery.documents", extra={"fields": {"resumed": sent}})
        live = [n["node_id"] for n in self.nodes.nodes() if n["state"] == "live" and not n["this_node"]]
        self.handoff.recover(live=live)
        for partner in self.registry:
            self.channels.start(partner)
        self.remote.apply(self.registry)
        self._watch_partner_files()
        self.scheduler.add_interval("delivery.retries", self.retries.run_due, RETRY_SWEEP_SECONDS, run_now=False)
        sweep = max(1.0, min(RECOVER_SWEEP_SECONDS, self.settings.outbound_lease_seconds / 2))
        self.scheduler.add_interval("documents.recover", self.documents.recover, sweep, run_now=False)
        self.scheduler.add_interval(
            "inbound.recover", lambda: self.inbound.recover(startup=False),
            max(1.0, min(RECOVER_SWEEP_SECONDS, self.settings.lease_seconds / 2)), run_now=False,
        )
        self.scheduler.add_interval(
            "ack.overdue", self.overdue.run, self.settings.ack_overdue_check_seconds, run_now=False
        )
        self.scheduler.add_interval("handoff.sweep", self.handoff.sweep, self.settings.handoff_sweep_seconds)
        self.scheduler.add_interval(
            "handoff.reconcile", self._sweep("handoff.reconcile", self.handoff.reconcile), 60.0, run_now=False
        )
        self.handoff.wake = lambda: self.scheduler.wake("handoff.sweep")
        if self.as2 is not None:
            self.as2.mdn_delivery.stopping.clear()  # a gateway started again after stop() delivers again
        for job_id, func, seconds in self.as2.jobs() if self.as2 else ():
            # the async-MDN job holds its own lock; the AS2 retry and MDN-overdue sweeps run on one node at a time
            job = func if job_id == ASYNC_MDN_JOB else self._sweep(job_id, func)
            self.scheduler.add_interval(job_id, job, seconds, run_now=False)
        if self.settings.archive_retention_days:
            self.scheduler.add_interval("archive.purge", self.purge_archive, PURGE_EVERY_SECONDS)
        self.scheduler.add_interval(
            "business.service_levels", self.service_levels.run, self.settings.service_level_check_seconds
        )
        self._start_notifications()
        from gateway import metrics

        metrics.set_worklist_source(self.worklist_counts)  # gateway_worklist_items (the console's metrics hook)
        metrics.set_node_source(self.nodes.nodes)  # gateway_nodes, gateway_node_* (the node registry)
        self.intake.start()  # broker consumers, each in its own thread; handoff.sweep re-reads the file
        self.scheduler.add_interval("intake.apply", self.intake.apply, 5.0, run_now=False)
        self.watcher.start()
        self.scheduler.start()
        self.started = True
        self._start_workers()
        log.info("gateway.started", extra={"fields": {"channels": [p.channel.channel for p in self.pollers],
                                                      "node": self.nodes.node,
                                                      "processes": self.settings.processes}})

    def _start_inbound(self) -> None:
        """An inbound worker process: the partners' folder inboxes (claimed, shared with the parent) and the
        partner-file reload; everything else is the parent's."""
        from sqlalchemy.orm import configure_mappers

        configure_mappers()  # once, before the first file (the parent's start-up recovery does it there)
        self.nodes.start()
        for partner in self.registry:
            self.channels.start(partner)
        self._watch_partner_files()
        self.watcher.start()
        self.scheduler.start()
        self.started = True
        log.info("gateway.started", extra={"fields": {"channels": [p.channel.channel for p in self.pollers],
                                                      "node": self.nodes.node, "role": self.role}})

    def _start_workers(self) -> None:
        """``inbound_processes`` > 1: the inbound worker processes, once this one's start-up recovery is done (a
        worker takes over no work at start)."""
        if self.settings.processes <= 1:
            return
        from gateway.processes.supervisor import WorkerProcesses

        self.workers = WorkerProcesses(self.settings, parent=self.nodes.node, count=self.settings.processes - 1,
                                       on_exit=self._worker_exited)
        self.workers.start()

    def _worker_exited(self, node: str) -> None:
        """A worker process exited: recorded as stopped, so that its claimed files (taken over by the next poll
        of each inbox) and its leased messages (the recovery sweep, run now) are this process's at once."""
        self.nodes.mark_stopped([node])
        self.scheduler.wake("inbound.recover")
        for poller in self.pollers:
            poller.wake()

    def _watch_partner_files(self) -> None:
        job = "partners:reload"
        self.scheduler.add_interval(job, self.reload_partners, self.settings.partners_reload_seconds, run_now=False)
        if self.settings.partners_path.is_dir():
            self.watcher.watch(
                self.settings.partners_path, lambda: self.scheduler.wake(job, delay=0.3), deletions=True
            )

    def _start_notifications(self) -> None:
        if not self.settings.notifications.enabled:
            return
        from gateway.notify.sources import check_certificates, message_observer
        from gateway.store.observers import subscribe

        self.notifier.start()
        base = f"http://{self.settings.api_host}:{self.settings.api_port}"
        self._notify_observer = message_observer(self.notifier, self.engine, ui_base=base)
        subscribe(self._notify_observer)
        self.scheduler.add_interval(
            "notify.certificates",
            lambda: check_certificates(self.notifier, self.partner_folder.loaded(), self.settings),
            self.settings.notifications.certificate_check_minutes * 60,
        )

    def worklist_counts(self) -> dict[str, int]:
        """Open worklist items by kind (GET /api/attention's counts), for the ``gateway_worklist_items`` gauge."""
        from gateway.store.attention import KINDS, counts

        out = dict.fromkeys(KINDS, 0)
        with self.store.session() as s:
            for kind, _partner, n in counts(s, kinds=list(KINDS), partner=None):
                out[kind] += n
        return out

    def purge_archive(
        self, *, days: int | None = None, actor: str = "gateway", progress: Callable[[int], None] | None = None
    ) -> PurgeResult:
        """Purge archived payloads older than ``days`` (default: the archive_retention_days setting)."""
        days = days or self.settings.archive_retention_days
        if not days:
            raise ConfigError("no retention period", hint="set archive_retention_days or pass --older-than-days")
        before = utc_now() - timedelta(days=days)
        with self._job_locks.hold("job:archive.purge") as mine:  # one node purges at a time
            if not mine and actor != "gateway":  # an operator's purge says why nothing happened
                raise InvalidActionError("another gateway node is purging the archive now",
                                         hint="try again once it has finished (see gateway_node_jobs_running)")
            if not mine:
                log.info("archive.purge_skipped", extra={"fields": {"reason": "another node is purging"}})
                return PurgeResult(messages=0, outputs=0, blobs_deleted=0, cutoff=before)
            return purge_archive(self.store, self.archive, before=before, actor=actor, progress=progress)

    def stop(self) -> None:
        with self._reload_lock:  # a reload in progress finishes first; none starts channels afterwards
            was_started, self.started = self.started, False
        if was_started:
            if self.workers is not None:
                self.workers.stop()  # first: their unfinished claims go back while this process still polls
                self.workers = None
            if self.as2 is not None:
                self.as2.mdn_delivery.stop()  # no new attempt starts; queued MDNs stay stored for the next start
            self.intake.stop()  # unacked messages go back to their queue
            self.watcher.stop()
            self.scheduler.stop()
            self.channels.release()  # shared inboxes: claimed, unfinished files back for the other nodes
            self.handoff.close()
            from gateway import metrics

            if metrics._worklist_source == self.worklist_counts:  # another gateway in this process may own it
                metrics.set_worklist_source(None)
            if metrics._node_source == self.nodes.nodes:
                metrics.set_node_source(None)
        if self._notify_observer is not None:
            from gateway.store.observers import unsubscribe

            unsubscribe(self._notify_observer)
            self._notify_observer = None
        self.notifier.stop()
        if was_started:
            self.nodes.stop()  # after the jobs: recorded as stopped, its leases already given back
        self.engine.dispose()
        log.info("gateway.stopped")
