"""Intake from the broker: internal systems publish canonical records to a RabbitMQ queue; each message becomes a
document sent to a partner. The fourth door of :class:`~gateway.flows.documents.DocumentFlow` (after the API, the
outbox folder and ``gateway send``), declared under ``intake:`` in the hand-off file (docs/handoff.md).

A message names its partner, set and version in headers (names configurable; defaults ``partner``, ``set_id``,
``version``) or takes the intake's defaults; its content type is the AMQP ``content_type`` property (else guessed);
its idempotency key is the ``idempotency-key`` header, else the AMQP ``message_id``, else the SHA-256 of the body.
The message is acknowledged only after :meth:`DocumentFlow.submit` returned (archived, recorded, built): a crash
before the ack redelivers it and the key answers with the same document (nothing built or sent twice). The
document is then delivered (after the ack: a crash there is resumed by the documents' recovery).

A message that cannot be used is dead-lettered with the reason (``x-gateway-error``) and a kind
(``x-gateway-error-kind``):

=================== ===================================================================================
``no_partner``      no partner header and no ``partner:`` on the intake
``unknown_partner`` the partner is not configured
``unreadable``      not JSON, CSV or XML that can be read (recorded: ``x-gateway-message-id`` names it)
``schema``          a record fails its canonical schema (recorded)
``refused``         the partner file cannot take it: no such outbound document, set not said ... (recorded)
``invalid``         the X12 written from it fails our validator (recorded)
``conflict``        its idempotency key came before with another body
``internal``        the gateway failed on it twice (a defect; the log has the trace)
=================== ===================================================================================

A store that is down is not the message's fault: the message goes back to the queue and the consumer backs off.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.errors import GatewayError, NotFoundError, StoreError
from gateway.failpoints import FailPoints
from gateway.flows.documents import DocumentFlow, IdempotencyConflict
from gateway.handoff.config import HandoffConfig, RabbitMQIntake
from gateway.logging import get_logger

if TYPE_CHECKING:  # pika (2 MB) is imported once an intake is configured: a gateway without one never needs it
    from gateway.transports.amqp_consumer import Delivery, QueueConsumer, Verdict

log = get_logger(__name__)
STOP_SECONDS = 5.0  # every consumer together: Gateway.stop stays well inside a SIGTERM's 10 seconds
KINDS = {"syntax": "unreadable", "schema": "schema", "set": "refused", "undeclared": "refused",
         "ambiguous": "refused", "empty": "refused", "csv": "refused"}


class BrokerIntake:
    """One intake's handler: a delivery in, a verdict out (a thin adapter over DocumentFlow.submit)."""

    def __init__(self, config: RabbitMQIntake, documents: DocumentFlow, failpoints: FailPoints | None = None) -> None:
        self.config = config
        self.documents = documents
        self.failpoints = failpoints or FailPoints()

    def __call__(self, d: Delivery) -> Verdict:
        from gateway.transports.amqp_consumer import Verdict

        c, h = self.config, self.config.headers
        partner_id = d.header(h.partner) or c.partner
        if not partner_id:
            return Verdict.dead("no_partner", f"the message names no partner: set its {h.partner!r} header "
                                f"(or partner: on intake {c.name!r} in the hand-off file)")
        if self.documents.registry().get(partner_id) is None:
            return Verdict.dead("unknown_partner", f"no partner {partner_id!r} is configured (header "
                                f"{h.partner!r}): see `gateway partners list`")
        key = d.header(h.idempotency_key) or d.properties.message_id or f"sha256:{hashlib.sha256(d.body).hexdigest()}"
        self.failpoints.hit("intake.before_submit")
        try:
            result = self.documents.submit(
                d.body, partner_id=partner_id, content_type=d.properties.content_type or c.content_type,
                set_id=d.header(h.set_id) or c.set_id, version=d.header(h.version) or c.version,
                idempotency_key=f"amqp:{key}", actor=f"intake:{c.name}", source="amqp", deliver=False,
            )
        except IdempotencyConflict as exc:
            return Verdict.dead("conflict", exc.describe())
        except NotFoundError as exc:  # the partner went away between the check and the submit
            return Verdict.dead("unknown_partner", exc.describe())
        except StoreError as exc:
            return Verdict.retry(f"the store failed: {exc.describe()}")
        except GatewayError as exc:
            return Verdict.dead("refused", exc.describe())
        msg = result.message
        if not result.valid:
            codes = [str(p.get("code") or "") for p in result.problems]
            kind = next((KINDS[k] for k in codes if k in KINDS), "invalid")
            return Verdict.dead(kind, msg.reason or "the document is invalid", **{
                "x-gateway-message-id": msg.id, "x-gateway-problems": len(result.problems)})
        log.info("intake.accepted", extra={"fields": {"intake": c.name, "message_id": msg.id,
                                                      "partner_id": partner_id, "repeat": not result.created}})
        return Verdict.ack(after=lambda: self.documents.run(msg), **{"x-gateway-message-id": msg.id})


class BrokerIntakes:
    """The consumers the hand-off file declares, started and stopped with the gateway; :meth:`apply` (at start and
    on a schedule) restarts the ones whose configuration changed."""

    def __init__(self, *, documents: DocumentFlow, config: Callable[[], HandoffConfig], secrets_dir: Path | None,
                 failpoints: FailPoints | None = None) -> None:
        self.documents = documents
        self.config = config
        self.secrets_dir = secrets_dir
        self.failpoints = failpoints or FailPoints()
        self.consumers: dict[str, tuple[RabbitMQIntake, QueueConsumer]] = {}
        self._refused: dict[str, RabbitMQIntake] = {}
        self._lock = threading.Lock()
        self._running = False

    def start(self) -> None:
        self._running = True
        self.apply()

    def apply(self) -> None:
        with self._lock:
            if not self._running:
                return
            wanted = {i.name: i for i in self.config().intake}
            if not wanted and not self.consumers:
                return
            from gateway.handoff.destinations.rabbitmq import amqp_settings
            from gateway.transports.amqp_consumer import ConsumerOptions, QueueConsumer

            gone = [n for n, (cfg, _c) in self.consumers.items() if wanted.get(n) != cfg]
            self._stop([self.consumers.pop(n)[1] for n in gone])
            for name, cfg in wanted.items():
                if name in self.consumers or self._refused.get(name) == cfg:
                    continue
                try:
                    settings = amqp_settings(cfg, secrets_dir=self.secrets_dir)
                except GatewayError as exc:
                    self._refused[name] = cfg  # reported once per configuration
                    log.error("intake.not_started", extra={"fields": {"intake": name, "error": exc.describe()}})
                    continue
                self._refused.pop(name, None)
                options = ConsumerOptions(
                    queue=cfg.queue, dead_letter_exchange=cfg.dlx, dead_letter_queue=cfg.dlq, declare=cfg.declare,
                    prefetch=cfg.prefetch, backoff_seconds=cfg.reconnect.backoff.total_seconds(),
                    max_backoff_seconds=cfg.reconnect.max_backoff.total_seconds())
                consumer = QueueConsumer(name, settings, options, BrokerIntake(cfg, self.documents, self.failpoints),
                                         failpoints=self.failpoints)
                consumer.start()
                self.consumers[name] = (cfg, consumer)

    def stop(self) -> None:
        with self._lock:
            self._running = False
            self._stop([c for _cfg, c in self.consumers.values()])
            self.consumers.clear()

    @staticmethod
    def _stop(consumers: list[QueueConsumer]) -> None:
        for c in consumers:
            c.signal_stop()
        for c in consumers:
            if not c.join(STOP_SECONDS / max(len(consumers), 1)):
                log.warning("intake.stop_slow", extra={"fields": {"intake": c.name}})

    def status(self) -> list[dict[str, Any]]:
        """Per intake: queue, connected, connections made, acked, dead-lettered, requeued, last error."""
        return [{"name": n, "queue": cfg.queue, **vars(c.status)} for n, (cfg, c) in self.consumers.items()]
