"""Outbound business documents for the acknowledgement tests, made the way the outbound flow (issue 11) makes them.

ONE place to swap for the real outbound flow once it lands: real X12 written by ``gateway.mapping.from_canonical``
from a real canonical sample, control numbers from ``Store.next_control_number``, the bytes archived, an outbound
message with its lineage (``Store.replace_lineage``: ISA13, GS01/GS06, ST01/ST02), ``ack_status`` ``waiting`` (or
``not_expected``) and ``ack_due_at`` from the partner document's ``ack.expect_ack_within``, then delivered on the
partner's outbound channel.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.edi.x12 import AckOptions, SequentialControlNumbers, analyze, build_acknowledgement
from gateway.flows.lineage import interchange_records
from gateway.mapping import EnvelopeSettings, from_canonical
from gateway.runtime import Gateway
from gateway.store.models import AckStatus, Direction, Message, MessageStatus


@dataclass(frozen=True)
class Sent:
    message: Message
    data: bytes
    interchange: str  # ISA13 as written
    group: str  # GS06
    sets: list[tuple[str, str]]  # (ST01, ST02)


def send_document(
    gw: Gateway,
    partner_id: str,
    canonical: Path,
    *,
    set_id: str,
    version: str | None = None,
    ack_within: timedelta | None = None,
    now: datetime | None = None,
    edit: Callable[[list[dict[str, Any]]], None] | None = None,
    count: int = 1,
) -> Sent:
    """Write, archive, record and deliver one outbound document from a canonical sample file."""
    partner = gw.registry.get(partner_id)
    assert partner is not None, partner_id
    now = now or datetime.now(UTC)
    doc = partner.document(set_id, "outbound", version)
    version = version or (doc.version if doc else "004010")
    policy = (doc.ack if doc and doc.ack else partner.acknowledgements)
    within = ack_within if ack_within is not None else policy.expect_ack_within
    ours = partner.our_ids[0] if partner.our_ids else None
    theirs = partner.identity.interchange_ids[0]
    env = EnvelopeSettings(
        sender_qualifier=ours.qualifier if ours else gw.settings.identity.isa_qualifier,
        sender_id=ours.id if ours else gw.settings.identity.isa_id,
        receiver_qualifier=theirs.qualifier,
        receiver_id=theirs.id,
        version=version,
        isa_version="00501" if version.startswith("005") else "00401",
        repetition="^" if version.startswith("005") else None,
        usage=partner.identity.usage,
        ack_requested=partner.envelope.request_ta1,
    )
    records = json.loads(canonical.read_text())["documents"]
    if edit is not None:
        edit(records)  # e.g. complete a party the sample leaves incomplete
    icn = gw.store.next_control_number(partner_id, "interchange")
    gcn = gw.store.next_control_number(partner_id, "group")
    data = from_canonical(records[:count], env, set_id=set_id, interchange_control=icn, group_control=gcn,
                          date=now.strftime("%Y%m%d"), time=now.strftime("%H%M"))
    analysis = analyze(data)
    blob = gw.archive.put_bytes(data)
    ic = analysis.interchanges[0]
    msg, _ = gw.store.create_message(
        direction=Direction.outbound,
        status=MessageStatus.queued,
        partner_id=partner_id,
        idempotency_key=f"test-outbound:{partner_id}:{icn}",
        file_name=f"{partner_id}-{set_id}-{ic.control_number}.x12",
        content_type="application/edi-x12",
        document_format="x12",
        set_ids=set_id,
        size=blob.size,
        sha256=blob.sha256,
        archive_key=blob.key,
        events=[("message.created", MessageStatus.queued, {"set_id": set_id, "source": canonical.name})],
    )
    assert msg.id is not None
    gw.store.replace_lineage(msg.id, interchange_records(analysis))
    gw.store.update(
        msg.id,
        validation_status="valid" if analysis.valid else "invalid",
        delivery_status="pending",
        ack_status=(AckStatus.waiting if within is not None else AckStatus.not_expected).value,
        ack_due_at=now + within if within is not None else None,
    )
    delivered = gw.retries.deliver(gw.store.get(msg.id), partner)
    g = ic.groups[0]
    return Sent(delivered, data, ic.control_number, g.control_number,
                [(t.set_id, t.control_number) for t in g.transactions])


def partner_acknowledgement(sent: Sent, *, control: int = 905) -> bytes:
    """The 997 (004010) or 999 (005010) the partner's translator returns for a document it accepts: built by
    analysing our bytes from the partner's side."""
    [ic] = analyze(sent.data).interchanges
    ack = build_acknowledgement(
        ic,
        control_numbers=SequentialControlNumbers(interchange=control - 1, group=control - 1),
        options=AckOptions(timestamp=datetime(2026, 12, 6, 12, 0, tzinfo=UTC)),
    )
    assert ack is not None
    return ack
