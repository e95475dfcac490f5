"""Descriptions and examples the OpenAPI document gets where the models and routes give none.

Kept as data beside the schema patcher (:mod:`gateway.api.openapi`) so the answer models stay short and several
branches can add fields without touching this file: a field or parameter named here is described wherever it
appears (``"Schema.field"`` overrides a plain ``"field"``), and a description already in the code always wins.
"""

from __future__ import annotations

from typing import Any

TS = "2026-12-06T14:03:27.512000Z"

FIELDS: dict[str, tuple[str, Any]] = {
    "id": ("message id", 42),
    "direction": ("inbound (from a partner) or outbound (to a partner)", "inbound"),
    "status": ("where the message stands (see docs/operations.md, message states)", "acked"),
    "partner_id": ("the partner file's id; null while unknown (quarantined)", "harbor-3pl"),
    "channel": ("partner/channel the bytes came in or went out on", "harbor-3pl/inbox"),
    "file_name": ("the file name as received or sent", "harbor-3pl-crossdock.edi"),
    "document_format": ("x12, csv, json or xml; null when unreadable", "x12"),
    "set_ids": ("X12 transaction set ids in the file", ["856"]),
    "size": ("bytes", 1092),
    "sha256": ("SHA-256 of the bytes (hex)", "8713334a31a6848ae578f680845c363fa5ba27aa9e158dc8cc70ebbe6b2a07a5"),
    "reason": ("why it failed or is quarantined: what, where, what to do", None),
    "created_at": ("when it was created (UTC)", TS),
    "updated_at": ("last change (UTC)", TS),
    "purged_at": ("when the payload was removed from the archive (retention); null while kept", None),
    "transport_id": ("AS2 Message-ID, remote path or webhook delivery id", "<20261206140327.1@acme.example>"),
    "content_type": ("MIME type of the bytes", "application/edi-x12"),
    "error": ("machine-readable error: kind, message, location", None),
    "interchanges": ("X12 lineage: ISA envelopes with their GS groups and ST sets", []),
    "ack_status": ("the latest acknowledgement linked to this message", {"state": "A", "kind": "997", "at": TS}),
    "business_keys": ("PO, BOL, PRO, tracking, SSCC ... found in the document (searchable with q)", []),
    "outputs": ("what the gateway derived from it: canonical records, acknowledgements", []),
    "delivery_attempts": ("tries at handing an outbound message to its channel", []),
    "timeline": ("events, oldest first", []),
    "items": ("the page of results", []),
    "total": ("messages matching the filters", 1),
    "page": ("page number, from 1", 1),
    "limit": ("page size", 50),
    "kind": ("kind of record", "997"),
    "AckOut.kind": ("acknowledgement kind: 997, 999, TA1 or MDN", "997"),
    "AckStatus.kind": ("acknowledgement kind: 997, 999, TA1 or MDN", "997"),
    "BusinessKeyOut.kind": ("order, po, shipment, bol, pro, tracking, sscc, file ...", "po"),
    "OutputOut.kind": ("canonical, ack ...", "canonical"),
    "result": ("A accepted, E accepted with errors, P partially, R rejected; MDN: processed/failed", "A"),
    "value": ("the key as found in the document", "POREF01"),
    "message_id": ("the acknowledged message", 42),
    "ack_message_id": ("the message carrying the acknowledgement", 43),
    "at": ("when (UTC)", TS),
    "name": ("name", "message.acked"),
    "EventOut.name": ("event: a dotted verb", "message.acked"),
    "KeyOut.name": ("who or what uses the key (recorded on timelines)", "support-desk"),
    "KeyCreate.name": ("who or what uses the key (recorded on timelines)", "support-desk"),
    "KeyCreated.name": ("who or what uses the key (recorded on timelines)", "support-desk"),
    "actor": ("who did it: gateway, api-key:NAME, ui:NAME or cli:USER", "api-key:support-desk"),
    "detail": ("event details (never payloads or secrets)", {"channel": "harbor-3pl/inbox"}),
    "HTTPValidationError.detail": ("the fields that failed validation", None),
    "message": ("the message after the action", None),
    "action": ("resend or reprocess", "resend"),
    "outcome": ("sent, failed or retrying", "sent"),
    "started_at": ("when the try began (UTC)", TS),
    "finished_at": ("when it ended (UTC); null while running", TS),
    "functional_id": ("GS01 functional identifier code", "SH"),
    "sender_id": ("GS02 application sender", "SENDER"),
    "receiver_id": ("GS03 application receiver", "RECEIVER"),
    "control_number": ("control number (ISA13, GS06 or ST02)", "000000091"),
    "version": ("ISA12 / GS08 version", "004010"),
    "transactions": ("ST/SE transaction sets in the group", []),
    "groups": ("GS/GE functional groups in the interchange", []),
    "sender": ("ISA05/ISA06 qualifier/id", "ZZ/SENDER"),
    "receiver": ("ISA07/ISA08 qualifier/id", "ZZ/RECEIVER"),
    "usage": ("ISA15: P production, T test", "P"),
    "date": ("ISA09 (YYMMDD)", "091225"),
    "time": ("ISA10 (HHMM)", "1943"),
    "set_id": ("ST01 transaction set id", "856"),
    "segment_count": ("SE01 segment count", 57),
    "valid": ("the set passed validation", True),
    "role": ("viewer reads; operator also resends/reprocesses; admin also manages keys", "operator"),
    "last_used_at": ("last use (UTC), to the nearest few minutes", TS),
    "revoked_at": ("when it was revoked; null while active", None),
    # outbound documents (POST /api/documents)
    "ack_due_at": ("when the partner's 997/999 becomes overdue (UTC); null when none is expected", TS),
    "messages": ("the outbound messages made from the submission, one per document", []),
    "problems": ("why the submission was refused: JSON path, X12 element, what is wrong", []),
    "ProblemOut.code": ("machine-readable problem code", "element_missing"),
    "ProblemOut.message": ("what is wrong and what to do", "W06-02 (depositor order number) is missing"),
    "SubmitResult.valid": ("the produced X12 passed our validator", True),
    # hand-off to internal systems
    "destination": ("the hand-off destination's name (config/handoff.yaml)", "erp-pull"),
    "confirmed": ("event ids confirmed now", ["42-1"]),
    "deliveries": ("one row per event and destination", []),
    "event_id": ("stable event id: message id and set position", "42-1"),
    "event_type": ("what the event tells: a record received, an acknowledgement outcome ...", "record.received"),
    "attempts": ("delivery attempts so far", 1),
    "due_at": ("when the next attempt is due (UTC)", TS),
    "delivered_at": ("when the destination confirmed it (UTC); null until then", TS),
    "last_error": ("the last failed attempt's error; null after a success", None),
    "HandoffRow.status": ("pending, retrying, available (pull), delivered or dead", "delivered"),
    "HandoffOut.status": ("the message's hand-off status: unrouted, pending, retrying, delivered, dead, skipped",
                          "delivered"),
    # several nodes (GET /api/health/details; docs/operations.md, several nodes)
    "HealthDetails.partners": ("rejected partner files and certificates expiring soon, with an overall severity",
                               {"severity": "ok", "rejected": [], "certificates": []}),
    "HealthDetails.node": ("the id of the node that answered (GATEWAY_NODE_ID, else host-pid-random)", "gw-1"),
    "HealthDetails.nodes": ("live nodes sharing the store (a heartbeat within three periods)", []),
    "HealthDetails.nodes_gone": ("nodes that stopped cleanly or died (no heartbeat for three periods); kept "
                                 "7 days", []),
    "node_id": ("the node's id: GATEWAY_NODE_ID, else host-pid-random", "gw-1"),
    "host": ("the host name the node runs on", "edi-gw-2"),
    "pid": ("the node's process id on its host", 4121),
    "NodeOut.version": ("the gateway version the node runs", "0.1.0"),
    "NodeOut.started_at": ("when the node started (UTC)", TS),
    "last_seen": ("the node's last heartbeat (UTC)", TS),
    "NodeOut.state": ("live, gone (no heartbeat for three periods: died or cut off) or stopped (a clean stop)",
                      "live"),
    "this_node": ("true for the node that answered this request", True),
    "working": ("what the node works on: scheduler jobs running and leases held", None),
    "jobs": ("scheduler jobs running on the node at its last heartbeat", ["handoff.sweep"]),
    "leases": ("unexpired leases the node holds, by kind of row (messages, handoff_rows, business_objects)",
               {"messages": 2, "handoff_rows": 0, "business_objects": 0}),
}

PARAMETERS: dict[str, tuple[str, Any]] = {
    "q": ("free text", "POREF01"),
    "direction": ("inbound or outbound", "inbound"),
    "status": ("message status", "failed"),
    "set_id": ("transaction set id", "856"),
    "partner": ("partner id", "harbor-3pl"),
    "page": ("page number, from 1", 1),
    "limit": ("page size (at most 500)", 50),
    "since": ("created at or after", "2026-12-01T00:00:00Z"),
    "until": ("created before", "2026-12-08T00:00:00Z"),
    "control_number": ("ISA13, GS06 or ST02, leading zeros optional", "91"),
    "message_id": ("message id", 42),
    "name": ("the key's name", "support-desk"),
    "days": ("how many days back", 30),
    "offset": ("how many results to skip (paging)", 0),
    "key": ("a business key: PO, order number, shipment id, BOL, PRO or tracking number; leading zeros, case and "
            "punctuation do not matter", "4500012345"),
    "Idempotency-Key": ("the same key with the same body answers the same messages (kept at least 7 days); "
                        "with another body: 409", "order-4500012345-945"),
}

OPERATIONS: dict[str, str] = {
    "get /api/health": "Always 200 while the process answers; no key needed. For load balancers and containers.",
    "get /api/ready": "200 when the store answers (with the store kind and partner count), 503 otherwise.",
    "get /metrics": "Prometheus text format; see docs/operations.md for every metric and example alert rules.",
    "get /api/messages": "Newest first. Every filter narrows the search; `q` words must all match a business key "
    "or file name. Example: `GET /api/messages?q=POREF01&partner=harbor-3pl`.",
    "get /api/messages/{message_id}/payload": "The bytes exactly as received or sent, with their content type and "
    "file name; 410 once retention purged them.",
    "get /api/messages/{message_id}/canonical": "The canonical order/shipment/status records (JSON) mapped from "
    "this message; 404 says why when there are none.",
    "post /api/messages/{message_id}/resend": "Outbound only (409 otherwise). Recorded on the timeline with the "
    "key's name; the partner receives the same bytes again.",
    "post /api/messages/{message_id}/reprocess": "Inbound only (409 otherwise). Parses, validates and maps the "
    "archived bytes again; never sends a second, different acknowledgement.",
    "get /api/health/details": "Partner files rejected at the last reload, certificates that expire within "
    "certificate_warning_days, and the gateway nodes sharing the store: `nodes` lists the live ones (heartbeat "
    "within three periods) with what each works on, `nodes_gone` the ones that stopped or died "
    "(docs/operations.md, several nodes).",
    "get /api/partners": "Every loaded partner file with defaults filled in; secret references are masked.",
    "get /api/stats": "Message counts by partner, status, direction and UTC day.",
    "get /api/keys": "Names, roles and last use; never the keys.",
    "post /api/keys": "The answer holds the key once (`key`); only its SHA-256 is stored.",
    "delete /api/keys/{name}": "The key stops working at once (also its support page sessions).",
    "post /as2": "AS2 (RFC 4130) receiving endpoint for partners; authenticated by signature, not by API key.",
    "post /api/webhooks/{partner}": "A partner's signed webhook delivery; authenticated by its HMAC signature.",
    "post /api/documents": "Canonical records (JSON, or CSV/XML by content type) to send to a partner: built into "
    "the partner's declared X12 (or CSV), validated, archived and delivered on its outbound channels "
    "(docs/sending.md). 422 lists every problem with its JSON path and X12 element.",
    "get /api/attention": "The support worklist, oldest first: failed, quarantined, invalid, rejected, overdue, "
    "dead, duplicate, unmatched, with counts per partner and kind (docs/operations.md).",
    "post /api/attention/{message_id}/resolve": "Resolve a message's worklist items with a note; recorded on its "
    "timeline with the caller.",
    "get /api/messages/{message_id}/handoff": "The message's hand-off to internal systems: one row per event and "
    "destination (docs/handoff.md).",
    "post /api/messages/{message_id}/handoff": "Hand the message's records off again with the same event ids, to "
    "the destinations routed now.",
    "get /api/inbox": "Events waiting in a pull destination, oldest first; pass the answered cursor as after= to "
    "read on.",
    "get /api/orders": "Orders, most recently active first; filter by partner, stage, date range and breach "
    "(docs/operations.md, orders and shipments).",
    "get /api/orders/{key}": "One order's business timeline: every document in time order with its statuses and "
    "acknowledgements, the stage, quantities ordered against shipped per line, the parties, service-level breaches.",
    "get /api/shipments": "Shipments, most recently active first; filter by partner, stage, date range and breach.",
    "get /api/shipments/{key}": "One shipment's business timeline (945, 856, 214s ...), its stage and breaches.",
    "post /api/inbox/confirm": "Confirm events read from the pull inbox; confirmed events are not returned again.",
}


def _fill(target: dict[str, Any], doc: tuple[str, Any] | None) -> None:
    if doc is None:
        return
    description, example = doc
    target.setdefault("description", description)
    if example is not None and "example" not in target and "examples" not in target:
        target["examples"] = [example]


def describe(schema: dict[str, Any]) -> None:
    """Fill in descriptions and examples (only where the code gave none)."""
    for name, comp in schema.get("components", {}).get("schemas", {}).items():
        for prop, spec in comp.get("properties", {}).items():
            _fill(spec, FIELDS.get(f"{name}.{prop}") or FIELDS.get(prop))
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            if not isinstance(op, dict):
                continue
            if "description" not in op and f"{method} {path}" in OPERATIONS:
                op["description"] = OPERATIONS[f"{method} {path}"]
            for param in op.get("parameters", []):
                doc = PARAMETERS.get(param["name"])
                if doc is None:
                    continue
                if "description" not in param and "description" not in param.get("schema", {}):
                    param["description"] = doc[0]
                param.setdefault("example", doc[1])
