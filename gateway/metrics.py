"""Prometheus metrics (``GET /metrics``), prometheus-client conventions: ``gateway_`` prefix, base units,
``_total`` counters, low-cardinality labels (partner ids and set ids are bounded by the partner files).

Two kinds of figures:

* **Counted in this process** as work happens, from the rows each transaction commits
  (:mod:`gateway.store.observers`): ``gateway_message_events_total{event,status}``,
  ``gateway_processing_seconds{direction,outcome}`` (message created -> finished),
  ``gateway_delivery_attempts_total{channel,outcome}``, ``gateway_ack_outcomes_total{kind,result}``,
  and from the poller ``gateway_channel_poll_errors_total{partner,channel,kind}``.
* **Read from the store and partner files at scrape time** (the same answer from every node):
  ``gateway_messages{direction,partner,set,status}``, ``gateway_acks_overdue{partner}``,
  ``gateway_certificate_days_to_expiry{owner,channel,certificate}``, ``gateway_partners``,
  ``gateway_partner_files_rejected``, ``gateway_worklist_items{kind}``.

Hooks for work landing elsewhere (call them; they are cheap and never raise):

* :func:`observe_handoff_lag` -- hand-off of canonical records to the business system (``gateway_handoff_lag_seconds``),
  called through :func:`observe_handoffs` by the hand-off flow once a destination took a record (a push delivered,
  or a pull inbox confirmed);
* :func:`count_ack_outcome` -- acknowledgement outcomes decided outside an ``ack_link`` row (e.g. ``overdue``);
* :func:`count_sla_breach` -- a service-level breach announced (``gateway_sla_breaches_total``);
* :func:`set_worklist_source` -- a function returning ``{kind: open items}`` for ``gateway_worklist_items``;
* :func:`set_node_source` -- the node registry's list (gateway/store/nodes.py) for ``gateway_nodes{state}``,
  ``gateway_node_last_seen_seconds{node}``, ``gateway_node_leases{node,kind}`` and ``gateway_node_jobs_running{node}``
  (live nodes only, so the series of a removed node go away).

Example alert rules are in docs/operations.md ("Metrics and alerts").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.logging import get_logger
from gateway.store.observers import Written, subscribe

if TYPE_CHECKING:
    from gateway.runtime import Gateway

log = get_logger(__name__)

disable_created_metrics()  # no *_created series: they double the output and no rule of ours uses them
PROCESS = CollectorRegistry(auto_describe=True)
FINISHED = {
    "acked", "processed", "failed", "quarantined", "duplicate", "sent", "delivered", "dead",
}  # fmt: skip

MESSAGE_EVENTS = Counter(
    "gateway_message_events_total", "Timeline events recorded, by event name and the status it set",
    ["event", "status"], registry=PROCESS,
)  # fmt: skip
PROCESSING = Histogram(
    "gateway_processing_seconds", "From a message's creation to its first finished status (acked, sent, failed ...)",
    ["direction", "outcome"], registry=PROCESS,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)  # fmt: skip
DELIVERY_ATTEMPTS = Counter(
    "gateway_delivery_attempts_total", "Tries at handing an outbound message to a channel, by outcome",
    ["channel", "outcome"], registry=PROCESS,
)  # fmt: skip
ACK_OUTCOMES = Counter(
    "gateway_ack_outcomes_total",
    "Acknowledgements linked to messages (997/999/TA1/MDN), by result; direction of the acknowledged message "
    "(outbound: the partner acknowledged ours; inbound: we acknowledged theirs)",
    ["direction", "kind", "result"], registry=PROCESS,
)  # fmt: skip
POLL_ERRORS = Counter(
    "gateway_channel_poll_errors_total", "Channel polls that failed (unreachable: transient; refused: permanent)",
    ["partner", "channel", "kind"], registry=PROCESS,
)  # fmt: skip
HANDOFF_LAG = Histogram(
    "gateway_handoff_lag_seconds", "From a document's arrival to its hand-off to the business system",
    ["partner"], registry=PROCESS, buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600),
)  # fmt: skip

SLA_BREACHES = Counter(
    "gateway_sla_breaches_total", "Service levels missed by orders and shipments, by partner file and level",
    ["partner", "service_level", "kind"], registry=PROCESS,
)  # fmt: skip

_worklist_source: Callable[[], dict[str, int]] | None = None
_node_source: Callable[[], list[dict[str, Any]]] | None = None


# -- hooks for other modules ---------------------------------------------------------------------------------
def poll_error(partner: str | None, channel: str, kind: str) -> None:
    POLL_ERRORS.labels(partner or "-", channel, kind).inc()


def observe_handoff_lag(partner: str | None, seconds: float) -> None:
    HANDOFF_LAG.labels(partner or "-").observe(max(0.0, seconds))


def observe_handoffs(engine: Any, message_ids: Iterable[int], now: datetime) -> None:
    """One hand-off lag per record delivered (or confirmed from a pull inbox) at ``now``: ``message_ids`` holds
    each record's message (repeated per record). Reads the messages' arrival and partner; never raises."""
    ids = list(message_ids)
    if not ids:
        return
    try:
        import sqlalchemy as sa
        from sqlmodel import col

        from gateway.store.models import Message

        q = sa.select(col(Message.id), col(Message.partner_id), col(Message.created_at)).where(
            col(Message.id).in_(set(ids)))  # fmt: skip
        with engine.connect() as conn:
            arrived = {row[0]: (row[1], row[2]) for row in conn.execute(q)}
        for mid in ids:
            if mid in arrived:
                partner, created = arrived[mid]
                created = created if created.tzinfo else created.replace(tzinfo=UTC)
                observe_handoff_lag(partner, (now - created).total_seconds())
    except Exception:
        log.exception("metrics.handoff_lag_failed")


def count_ack_outcome(kind: str, result: str, direction: str = "outbound") -> None:
    ACK_OUTCOMES.labels(direction, kind, result).inc()


def count_sla_breach(partner: str | None, service_level: str, kind: str) -> None:
    SLA_BREACHES.labels(partner or "-", service_level, kind).inc()


def set_worklist_source(source: Callable[[], dict[str, int]] | None) -> None:
    global _worklist_source
    _worklist_source = source


def set_node_source(source: Callable[[], list[dict[str, Any]]] | None) -> None:
    global _node_source
    _node_source = source


# -- counted as work happens ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def _child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once: a small file's transactions count about twenty rows, and the
    label look-up (validation, a lock, a dict of tuples) cost more than the count (the series are never removed;
    the label values are bounded: event names, statuses, channels)."""
    return metric.labels(*labels)


def _count(_engine: Any, rows: list[Written]) -> None:
    now = datetime.now(UTC)
    # counted per series, then one inc(n) each: a batch of 50 small files writes about 900 rows over a dozen series
    # (each inc takes the series' lock)
    events: dict[tuple[str, str], int] = {}
    deliveries: dict[tuple[str, str], int] = {}
    for w in rows:
        if w.kind == "event":
            key = (w.name or "-", w.status or "")
            events[key] = events.get(key, 0) + 1
            if w.status in FINISHED and w.created_at is not None and w.name != "message.created":
                created = w.created_at if w.created_at.tzinfo else w.created_at.replace(tzinfo=UTC)
                _child(PROCESSING, w.direction or "-", w.status).observe(max(0.0, (now - created).total_seconds()))
        elif w.kind == "delivery":
            key = (w.name or "-", w.status or "-")
            deliveries[key] = deliveries.get(key, 0) + 1
        elif w.kind == "ack":
            ACK_OUTCOMES.labels(w.direction or "-", w.name or "-", w.status or "-").inc()
    for (name, status), n in events.items():
        _child(MESSAGE_EVENTS, name, status).inc(n)
    for (channel, outcome), n in deliveries.items():
        _child(DELIVERY_ATTEMPTS, channel, outcome).inc(n)


subscribe(_count)


# -- read at scrape time -------------------------------------------------------------------------------------
class StoreCollector(Collector):
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._messages()
        yield from self._partners()
        if _worklist_source is not None:
            g = GaugeMetricFamily("gateway_worklist_items", "Open worklist items, by kind", labels=["kind"])
            try:
                for kind, n in sorted(_worklist_source().items()):
                    g.add_metric([kind], n)
            except Exception:
                log.exception("metrics.worklist_failed")
            yield g
        if _node_source is not None:
            yield from _nodes(_node_source)

    def _messages(self) -> Iterator[GaugeMetricFamily]:
        import sqlalchemy as sa
        from sqlmodel import col

        from gateway.store.models import Message

        msgs = GaugeMetricFamily(
            "gateway_messages", "Messages in the store, by direction, partner, transaction set and status",
            labels=["direction", "partner", "set", "status"],
        )  # fmt: skip
        overdue = GaugeMetricFamily(
            "gateway_acks_overdue", "Outbound messages whose partner acknowledgement is overdue", labels=["partner"]
        )
        cols: tuple[Any, ...] = (Message.direction, Message.partner_id, Message.set_ids, Message.status)
        with self.gw.engine.connect() as conn:
            rows: Any = conn.execute(sa.select(*cols, sa.func.count()).group_by(*cols))
            for direction, partner, sets, status, n in rows:
                msgs.add_metric([direction, partner or "-", sets or "-", status], int(n))
            for partner, n in conn.execute(
                sa.select(col(Message.partner_id), sa.func.count())
                .where(col(Message.ack_status) == "overdue")
                .group_by(col(Message.partner_id))
            ):
                overdue.add_metric([partner or "-"], int(n))
        yield msgs
        yield overdue

    def _partners(self) -> Iterator[GaugeMetricFamily]:
        from gateway.errors import ConfigError
        from gateway.partners.certificates import read_certificate
        from gateway.partners.channels import As2Channel

        folder = self.gw.partner_folder
        loaded = folder.loaded()
        yield GaugeMetricFamily("gateway_partners", "Partners loaded", value=len(loaded))
        yield GaugeMetricFamily(
            "gateway_partner_files_rejected", "Partner files rejected at the last reload",
            value=sum(1 for p in folder.problems if p.severity == "error"),
        )  # fmt: skip
        days = GaugeMetricFamily(
            "gateway_certificate_days_to_expiry", "Days until a certificate expires (negative: expired)",
            labels=["owner", "channel", "certificate"],
        )  # fmt: skip
        now = datetime.now(UTC)
        paths: list[tuple[str, str, Any]] = []
        for lp in loaded:
            for ch in lp.partner.channels:
                if isinstance(ch, As2Channel):
                    for field in ("signing_certificates", "encryption_certificate"):
                        for p in getattr(ch, field) or ():
                            if (lp.partner.id, ch.name, p) not in paths:
                                paths.append((lp.partner.id, ch.name, p))
        for cert in self.gw.settings.identity.certificates:
            paths.append(("us", cert.name, self.gw.settings.path(cert.certificate)))
        for owner, channel, path in paths:
            try:
                info = read_certificate(path)
            except ConfigError:
                continue  # reported by /api/health/details and the partner check
            days.add_metric([owner, channel, path.name], round(info.days_left(now), 3))
        yield days


def _nodes(source: Callable[[], list[dict[str, Any]]]) -> Iterator[GaugeMetricFamily]:
    """The node registry: nodes by state, and per live node its heartbeat age, leases held and jobs running."""
    try:
        nodes = source()
    except Exception:
        log.exception("metrics.nodes_failed")
        return
    now = datetime.now(UTC)
    states = GaugeMetricFamily("gateway_nodes", "Gateway nodes in the registry, by state (live, gone, stopped)",
                               labels=["state"])
    counts = {"live": 0, "gone": 0, "stopped": 0}
    for n in nodes:
        counts[n["state"]] = counts.get(n["state"], 0) + 1
    for state, k in sorted(counts.items()):
        states.add_metric([state], k)
    yield states
    seen = GaugeMetricFamily("gateway_node_last_seen_seconds", "Seconds since a live node's last heartbeat",
                             labels=["node"])
    leases = GaugeMetricFamily("gateway_node_leases", "Leases a live node holds, by kind of row",
                               labels=["node", "kind"])
    jobs = GaugeMetricFamily("gateway_node_jobs_running", "Scheduler jobs a live node is running now",
                             labels=["node"])
    for n in nodes:
        if n["state"] != "live":
            continue
        last = n["last_seen"] if n["last_seen"].tzinfo else n["last_seen"].replace(tzinfo=UTC)
        seen.add_metric([n["node_id"]], round(max(0.0, (now - last).total_seconds()), 3))
        working = n.get("working") or {}
        for kind, k in sorted((working.get("leases") or {}).items()):
            leases.add_metric([n["node_id"], kind], int(k))
        jobs.add_metric([n["node_id"]], len(working.get("jobs") or []))
    yield seen
    yield leases
    yield jobs


def render(gw: Gateway) -> bytes:
    """The exposition text: process counters, then the store's figures."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(StoreCollector(gw))
    return generate_latest(PROCESS) + generate_latest(reg)
