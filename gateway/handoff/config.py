"""The hand-off file (``config/handoff.yaml``): destinations in our own systems, and routes to them.

A *destination* is where records leave the gateway for an internal system (an ERP, a WMS); a *route* says which
records go where, by partner, record type and transaction set. Validated like partner files: unknown keys are
refused, every problem names its ``file:line`` and field, secrets are ``{secret: NAME}`` references, and a JSON
Schema (``docs/handoff.schema.json``) lets editors check the file as it is typed::

    destinations:
      - name: wms
        type: webhook
        url: https://wms.internal.example/edi-events
        secret: {secret: WMS_WEBHOOK_KEY}
        retry: {attempts: 20, backoff: 10s, multiplier: 2, max_backoff: 10m}
      - {name: erp-drop, type: folder, path: handoff/erp, format: csv}
      - {name: bus, type: rabbitmq, host: 127.0.0.1, exchange: edi, password: {secret: RABBIT_PASSWORD}}
      - {name: inbox, type: pull}
    routes:
      - {partners: [acme-retail], record_types: [order], to: [wms, bus]}
      - {record_types: [status, ack], to: [inbox]}
    intake:                       # records to send, published by internal systems (docs/handoff.md)
      - {name: wms-out, type: rabbitmq, queue: edi-outbound, prefetch: 10}

A record no route matches is not dropped: it waits (hand-off status ``unrouted``) until a route exists and the
message is replayed (``POST /api/messages/{id}/handoff``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.errors import ConfigError
from gateway.partners.diagnostics import Problem, SourceMap, read_yaml, validation_problems
from gateway.partners.secrets import SecretRef
from gateway.partners.types import Duration, HttpUrlStr

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RECORD_TYPES = ("order", "shipment", "status", "ack", "sla")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HandoffRetry(_Strict):
    """How a destination is retried before a record is parked as ``dead`` (replay brings it back)."""

    attempts: int = Field(10, ge=1, le=1000, description="tries in all, the first included")
    backoff: Duration = Field(timedelta(seconds=5), description="wait before the second try")
    multiplier: float = Field(2.0, ge=1.0, le=10.0, description="each wait is this much longer than the last")
    max_backoff: Duration = Field(timedelta(minutes=10), description="longest wait between tries")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        seconds = self.backoff.total_seconds() * self.multiplier ** max(attempt - 1, 0)
        return min(seconds, self.max_backoff.total_seconds())


class _DestinationBase(_Strict):
    name: str = Field(description="unique; routes name destinations by it")
    retry: HandoffRetry = Field(default_factory=HandoffRetry)
    batch: int = Field(100, ge=1, le=10_000, description="records delivered per claim (in order per partner)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError("use letters, digits, '.', '_' or '-' (at most 64), e.g. wms-webhook")
        return v


class WebhookDestination(_DestinationBase):
    """POST one JSON event per record, signed with HMAC-SHA256 over timestamp, event id and body."""

    type: Literal["webhook"]
    url: HttpUrlStr = Field(description="where events are POSTed")
    secret: SecretRef = Field(description="{secret: NAME}: the shared HMAC-SHA256 signing key")
    timeout: Duration = Field(timedelta(seconds=10), description="for the whole request")


class FolderDestination(_DestinationBase):
    """One file per record, written to a temporary name, fsynced and renamed into place."""

    type: Literal["folder"]
    path: Path = Field(description="a folder; relative paths are under the gateway's data_dir")
    format: Literal["json", "csv", "xml"] = Field("json", description="json: the whole event; csv/xml: the record")


class RabbitMQConnection(_Strict):
    """The broker a RabbitMQ destination publishes to and an intake consumes from: the same keys in both (flat,
    beside the destination's or the intake's own keys)."""

    host: str = "127.0.0.1"
    port: int = Field(5672, ge=1, le=65535)
    virtual_host: str = "/"
    username: str = "guest"
    password: SecretRef | None = Field(None, description="{secret: NAME}; none: 'guest' (a local broker only)")
    timeout: Duration = Field(timedelta(seconds=10), description="connecting and waiting for a confirm")


class RabbitMQDestination(RabbitMQConnection, _DestinationBase):
    """AMQP 0-9-1 (RabbitMQ): persistent messages, publisher confirms; one message per record."""

    type: Literal["rabbitmq"]
    exchange: str = Field(
        "edi-gateway", description="a topic exchange by default (consumers bind 'acme-retail.*', '*.order' ...); "
        "'' is the broker's default exchange (the routing key then names a queue)"
    )
    exchange_type: Literal["topic", "direct", "fanout", "headers"] = "topic"
    declare_exchange: bool = Field(True, description="declare the exchange (durable) when connecting")
    routing_key: str = Field(
        "{partner}.{record_type}",
        description="a template: {partner}, {record_type}, {set}, {event_type}",
    )
    queue: str | None = Field(None, description="also declare this durable queue and bind it with queue_binding")
    queue_binding: str = Field("#", description="binding key for queue on a topic exchange")

    @model_validator(mode="after")
    def _key(self) -> RabbitMQDestination:
        try:
            self.routing_key.format(partner="p", record_type="r", set="s", event_type="e")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"routing_key {self.routing_key!r} uses an unknown placeholder ({exc}): "
                "use {partner}, {record_type}, {set} or {event_type}"
            ) from exc
        return self


class PullDestination(_DestinationBase):
    """Records wait in the gateway until a client reads them (``GET /api/inbox``) and confirms them."""

    type: Literal["pull"]


Destination = Annotated[
    WebhookDestination | FolderDestination | RabbitMQDestination | PullDestination, Field(discriminator="type")
]


class Route(_Strict):
    """Records matching every given filter go to each destination in ``to`` (an empty filter matches all)."""

    partners: list[str] = Field(default_factory=list, description="partner ids; empty: every partner")
    record_types: list[Literal["order", "shipment", "status", "ack", "sla"]] = Field(
        default_factory=list,
        description="order, shipment, status (214s), ack (outcomes of what we sent), sla (service-level breaches)"
    )
    sets: list[str] = Field(default_factory=list, description="X12 transaction set ids (940, 214 ...), csv or xml")
    to: list[str] = Field(min_length=1, description="destination names")

    def matches(self, partner: str | None, record_type: str, set_id: str | None) -> bool:
        return (
            (not self.partners or partner in self.partners)
            and (not self.record_types or record_type in self.record_types)
            and (not self.sets or set_id in self.sets)
        )


class IntakeHeaders(_Strict):
    """Which AMQP headers name the partner, the set, the version and the idempotency key."""

    partner: str = "partner"
    set_id: str = "set_id"
    version: str = "version"
    idempotency_key: str = Field("idempotency-key", description="absent: the message_id property, else the body's "
                                 "SHA-256")


class IntakeReconnect(_Strict):
    backoff: Duration = Field(timedelta(seconds=1), description="first wait after the broker went away")
    max_backoff: Duration = Field(timedelta(seconds=30), description="longest wait between connection attempts")


class RabbitMQIntake(RabbitMQConnection):
    """A queue internal systems publish canonical records to; each message becomes a document to send
    (docs/handoff.md, "Intake from the broker")."""

    name: str = Field(description="unique among intakes; shown on the messages it creates (actor intake:NAME)")
    type: Literal["rabbitmq"]
    queue: str = Field(min_length=1, max_length=255, description="the queue consumed")
    declare: bool = Field(True, description="declare the queue (durable, dead-lettering to dead_letter_exchange), "
                          "the dead-letter exchange (direct) and queue, bound by the queue's name")
    dead_letter_exchange: str | None = Field(None, description="default: '<queue>.dead'")
    dead_letter_queue: str | None = Field(None, description="default: '<queue>.dead'")
    prefetch: int = Field(10, ge=1, le=1000, description="unacknowledged messages the broker sends ahead")
    partner: str | None = Field(None, description="the partner of a message without a partner header")
    set_id: str | None = Field(None, description="the set of a message without a set header (945, 856 ...)")
    version: str | None = Field(None, description="the version of a message without a version header")
    content_type: str | None = Field(None, description="for a message without a content_type property "
                                     "(else guessed from the first bytes: JSON, XML, CSV)")
    headers: IntakeHeaders = Field(default_factory=IntakeHeaders)
    reconnect: IntakeReconnect = Field(default_factory=IntakeReconnect)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError("use letters, digits, '.', '_' or '-' (at most 64), e.g. wms-shipments")
        return v

    @property
    def dlx(self) -> str:
        return self.dead_letter_exchange or f"{self.queue}.dead"

    @property
    def dlq(self) -> str:
        return self.dead_letter_queue or f"{self.queue}.dead"


Intake = Annotated[RabbitMQIntake, Field(discriminator="type")]


class HandoffConfig(_Strict):
    destinations: list[Destination] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    intake: list[Intake] = Field(default_factory=list, description="broker queues feeding the documents we send")

    @model_validator(mode="after")
    def _consistent(self) -> HandoffConfig:
        names: set[str] = set()
        for d in self.destinations:
            if d.name in names:
                raise ValueError(f"two destinations are named {d.name!r}: names must be unique")
            names.add(d.name)
        for n, r in enumerate(self.routes):
            for target in r.to:
                if target not in names:
                    known = ", ".join(sorted(names)) or "none declared"
                    raise ValueError(f"routes[{n}] sends to {target!r}, which is not a destination ({known})")
        seen: dict[str, str] = {}
        for i in self.intake:
            if i.name in seen:
                raise ValueError(f"two intakes are named {i.name!r}: names must be unique")
            if (i.host, i.port, i.virtual_host, i.queue) in {(j.host, j.port, j.virtual_host, j.queue)
                                                              for j in self.intake if j is not i}:
                raise ValueError(f"intake {i.name!r}: queue {i.queue!r} is consumed by another intake")
            seen[i.name] = i.queue
        return self

    def destination(self, name: str) -> Any:
        for d in self.destinations:
            if d.name == name:
                return d
        return None

    def route(self, partner: str | None, record_type: str, set_id: str | None) -> list[str]:
        """Destination names for a record, in declaration order, without repeats."""
        out: list[str] = []
        for r in self.routes:
            if r.matches(partner, record_type, set_id):
                out += [t for t in r.to if t not in out]
        return out

    def pull_destinations(self) -> list[str]:
        return [d.name for d in self.destinations if d.type == "pull"]


@dataclass
class LoadedHandoff:
    config: HandoffConfig
    problems: list[Problem] = field(default_factory=list)
    path: Path | None = None


def parse_handoff_file(path: Path) -> LoadedHandoff:
    """The hand-off file; a missing file is an empty configuration, a bad one gives problems (file:line)."""
    if not path.is_file():
        return LoadedHandoff(HandoffConfig(), [], None)
    data, source, problems = read_yaml(path)
    if problems:
        return LoadedHandoff(HandoffConfig(), problems, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        msg = f"the file is a {type(data).__name__}: the hand-off file is a mapping (destinations:, routes:, intake:)"
        return LoadedHandoff(HandoffConfig(), [Problem(str(path), 1, None, msg)], path)
    try:
        config = HandoffConfig.model_validate(data)
    except ValidationError as exc:
        found = validation_problems(exc, file=str(path), source=source, data=data, model=HandoffConfig)
        return LoadedHandoff(HandoffConfig(), found, path)
    return LoadedHandoff(config, [], path)


def load_handoff(path: Path) -> HandoffConfig:
    """The configuration, or a ConfigError naming the first problem (file:line: field: what)."""
    loaded = parse_handoff_file(path)
    if loaded.problems:
        first = loaded.problems[0].to_error()
        if len(loaded.problems) > 1:
            first.message += f" (and {len(loaded.problems) - 1} more problems)"
        raise first
    return loaded.config


def check_source(path: Path) -> list[str]:
    """Every problem in the file, rendered ``file:line: field: message`` (for ``gateway handoff check``)."""
    return [p.render() for p in parse_handoff_file(path).problems]


def handoff_schema() -> dict[str, Any]:
    schema = HandoffConfig.model_json_schema(mode="validation")
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Hand-off destinations and routes",
        "description": "config/handoff.yaml: where records leave the gateway for internal systems (docs/handoff.md).",
    }
    out.update({k: v for k, v in schema.items() if k not in ("title", "description")})
    return out


def handoff_schema_text() -> str:
    return json.dumps(handoff_schema(), indent=2) + "\n"


__all__ = [
    "ConfigError", "Destination", "FolderDestination", "HandoffConfig", "HandoffRetry", "PullDestination",
    "RabbitMQConnection", "RabbitMQDestination", "RabbitMQIntake", "Route", "SourceMap", "WebhookDestination",
    "check_source", "handoff_schema", "load_handoff", "parse_handoff_file",
]
