"""Hand-off events: what leaves the gateway for internal systems. Pure: no I/O, no clock (times are passed in).

Every event has a stable id, so a consumer drops repeats: a record from a partner is ``<message id>-<position>``
(its transaction set's position in the file, 1-based: a replay or a redelivery after a crash carries the same id);
the outcome of a document we sent is ``<message id>-ack-<outcome>``.

Event types::

    order.received  shipment.received  status.received     a partner's record (940; 945/856; 214), mapped
    ack.accepted  ack.accepted_with_errors  ack.partially_accepted  ack.rejected  ack.overdue
                                                            the partner's acknowledgement of what we sent them

The JSON body (webhook body, RabbitMQ message body, folder ``.json`` file, pull API item)::

    {"event_id": "42-1", "type": "order.received", "occurred_at": "2026-12-06T23:00:00+00:00",
     "partner": "acme-retail", "message_id": 42, "set": "940", "position": 1, "record_type": "order",
     "business_keys": [{"kind": "po", "value": "4500012"}], "record": {...canonical order...}}

Acknowledgement outcomes carry ``"outcome"`` and ``"reasons"`` (one line each, with the segment and element)
instead of ``"record"``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

ACK_OUTCOMES = ("accepted", "accepted_with_errors", "partially_accepted", "rejected", "overdue")
RECORD_EVENT_TYPES = {"order": "order.received", "shipment": "shipment.received", "status": "status.received"}

TIMESTAMP = "X-Gateway-Timestamp"
EVENT_ID = "X-Gateway-Event-Id"
EVENT_TYPE = "X-Gateway-Event-Type"
SIGNATURE = "X-Gateway-Signature"


@dataclass(frozen=True, slots=True)
class HandoffEvent:
    event_id: str
    type: str
    partner: str | None
    message_id: int
    position: int
    record_type: str  # order, shipment, status, ack
    set_id: str | None
    body: dict[str, Any] = field(hash=False, compare=False)  # without "record" when ``text`` is given
    text: str | None = field(default=None, hash=False, compare=False)  # the whole body's text, when made from text

    def to_bytes(self) -> bytes:
        return self.to_text().encode()

    def to_text(self) -> str:
        """The JSON body as text (what the outbox row stores; :meth:`to_bytes` encoded)."""
        return self.text if self.text is not None else _COMPACT.encode(self.body)


# json.dumps with options builds a new encoder per call: one for every event of every file
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def record_event_id(message_id: int, position: int) -> str:
    return f"{message_id}-{position}"


def iter_record_events(
    *,
    message_id: int,
    partner: str | None,
    documents: Iterable[dict[str, Any] | None],
    set_ids: Sequence[str | None],
    keys_of: Any,
    occurred_at: datetime,
    known_keys: Iterable[Sequence[tuple[str, str]] | None] | None = None,
    first: int = 1,
) -> Iterator[HandoffEvent]:
    """One event per mapped record of a message, one at a time (a large interchange's records are never all in
    memory). ``documents`` is the mapping output (``{"documents": [...]}``'s list, errors included so positions stay
    those of the sets); ``keys_of(record dict)`` gives business keys, unless ``known_keys`` (one entry per document,
    in step with ``documents``) already holds them (None: ask ``keys_of``). ``first``: the first document's
    position (``set_ids`` starts with its set)."""
    known = iter(known_keys) if known_keys is not None else None
    for position, doc in enumerate(documents, start=first):
        keys = next(known, None) if known is not None else None
        kind = doc.get("type") if isinstance(doc, dict) else None
        if kind not in RECORD_EVENT_TYPES:
            continue  # a set that could not be mapped: shown on the timeline by the mapping step
        set_id = set_ids[position - first] if position - first < len(set_ids) else None
        event_id = record_event_id(message_id, position)
        body = _record_head(event_id, kind, occurred_at.isoformat(), partner, message_id, set_id, position,
                            keys_of(doc) if keys is None else keys)
        body["record"] = doc
        yield HandoffEvent(event_id, body["type"], partner, message_id, position, kind, set_id, body)


def iter_kept_record_events(
    *,
    message_id: int,
    partner: str | None,
    entries: Iterable[tuple[str | None, Sequence[tuple[str, str]] | None]],
    set_ids: Sequence[str | None],
    keys_of: Any,
    occurred_at: datetime,
) -> Iterator[HandoffEvent]:
    """:func:`iter_record_events` from each document's indented JSON text (None: a set that could not be mapped)
    and its business keys (None: ``keys_of`` the parsed record), the same events to the byte. A record whose keys
    are known and whose text :func:`compact_record` can compact is not parsed: its compact text goes into the
    event's text as it is (a parsed record is a few hundred dicts and lists for the garbage collector to track);
    any other is parsed and takes :func:`iter_record_events`' way."""
    at = occurred_at.isoformat()
    for position, (text, keys) in enumerate(entries, start=1):
        if text is None:
            continue  # a set that could not be mapped: shown on the timeline by the mapping step
        set_id = set_ids[position - 1] if position - 1 < len(set_ids) else None
        compact = compact_record(text) if keys is not None else None
        if compact is None:
            yield from iter_record_events(message_id=message_id, partner=partner, documents=[json.loads(text)],
                                          set_ids=[set_id], keys_of=keys_of, occurred_at=occurred_at,
                                          known_keys=[keys], first=position)
            continue
        kind, record = compact
        event_id = record_event_id(message_id, position)
        assert keys is not None
        head = _record_head(event_id, kind, at, partner, message_id, set_id, position, keys)
        whole = f"{head_text(head)},\"record\":{record}}}"  # "record" is the body's last member
        yield HandoffEvent(event_id, head["type"], partner, message_id, position, kind, set_id, head, whole)


def _record_head(event_id: str, kind: str, at: str, partner: str | None, message_id: int, set_id: str | None,
                 position: int, keys: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """A record event's body up to its ``"record"`` (the last member)."""
    return {
        "event_id": event_id,
        "type": RECORD_EVENT_TYPES[kind],
        "occurred_at": at,
        "partner": partner,
        "message_id": message_id,
        "set": set_id,
        "position": position,
        "record_type": kind,
        "business_keys": [{"kind": k, "value": v} for k, v in keys],
    }


_escape = encode_basestring  # C: a JSON string as the compact encoder writes it (no ensure_ascii)
_HEAD_KEYS = ("event_id", "type", "occurred_at", "partner", "message_id", "set", "position", "record_type",
              "business_keys")


def head_text(head: dict[str, Any]) -> str:
    """``_COMPACT.encode(head)`` without its closing brace, for a record event's head (:func:`_record_head`): written
    member by member with the encoder's own string escaper, in about a third of the encoder's time; any value of
    another type than the head's usual ones goes to the encoder (the same text)."""
    partner, set_id, mid, pos = head["partner"], head["set"], head["message_id"], head["position"]
    keys = head["business_keys"]
    if (tuple(head) != _HEAD_KEYS or type(mid) is not int or type(pos) is not int
            or not (partner is None or type(partner) is str) or not (set_id is None or type(set_id) is str)
            or any(type(k["kind"]) is not str or type(k["value"]) is not str or len(k) != 2 for k in keys)):
        return _COMPACT.encode(head)[:-1]
    listed = ",".join([f'{{"kind":{_escape(k["kind"])},"value":{_escape(k["value"])}}}' for k in keys])
    return (f'{{"event_id":{_escape(head["event_id"])},"type":{_escape(head["type"])},'
            f'"occurred_at":{_escape(head["occurred_at"])},'
            f'"partner":{"null" if partner is None else _escape(partner)},"message_id":{mid!r},'
            f'"set":{"null" if set_id is None else _escape(set_id)},"position":{pos!r},'
            f'"record_type":{_escape(head["record_type"])},"business_keys":[{listed}]')


_TYPED = '{"type":"'


def compact_record(text: str) -> tuple[str, str] | None:
    """(record type, compact text) of a record's indented JSON text (``json.dumps(indent=...)``'s layout, as
    :mod:`gateway.canonical.jsonio` writes it), without parsing it: the same text as ``json.loads`` then the
    compact encoder give, when the record's type is its first member and is a record event's type; else None.

    Why it holds: a JSON string holds no raw line break, so every line break and the indentation after it are
    layout: each line starts with its indentation, then a token (a quote, a bracket, a number or a literal, never
    white space), so stripping each line's leading white space removes the indentation only. With no backslash in
    the text no string holds a quote, so every ``"`` opens or closes a string, and the only other white space is
    the ``": "`` after each key. A string that starts with ``": "`` would be taken for that: the layout puts a space
    before every string that starts a line or follows a key, so such a string shows as `` ": "`` in the text
    (which a key ending in a space shows too), and any such text is left to the parser. Numbers and literals were
    written by :mod:`json` and read back by it to the same value, written the same again.
    tests/handoff/test_kept_events.py checks it against the parser and the encoder over the samples, the corpus,
    generated records and awkward strings."""
    if "\\" in text or ' ": ' in text:
        return None
    flat = "".join(map(str.lstrip, text.replace('": ', '":').split("\n")))
    if not flat.startswith(_TYPED):
        return None
    kind = flat[len(_TYPED):flat.find('"', len(_TYPED))]
    if kind not in RECORD_EVENT_TYPES:
        return None
    return kind, flat


def ack_outcome_event(
    *,
    message_id: int,
    partner: str | None,
    outcome: str,
    set_ids: Iterable[str] = (),
    reasons: Sequence[str] = (),
    business_keys: Iterable[tuple[str, str]] = (),
    ack_message_id: int | None = None,
    occurred_at: datetime,
) -> HandoffEvent:
    """The outcome of a document we sent (``message_id``): its partner accepted, rejected or never answered it."""
    if outcome not in ACK_OUTCOMES:
        raise ValueError(f"unknown acknowledgement outcome {outcome!r}; expected one of {', '.join(ACK_OUTCOMES)}")
    sets = [s for s in set_ids if s]
    event_id = f"{message_id}-ack-{outcome}"
    event_type = f"ack.{outcome}"
    set_label = sets[0] if len(sets) == 1 else (",".join(sets) or None)
    body: dict[str, Any] = {
        "event_id": event_id,
        "type": event_type,
        "occurred_at": occurred_at.isoformat(),
        "partner": partner,
        "message_id": message_id,
        "set": set_label,
        "position": 0,
        "record_type": "ack",
        "outcome": outcome,
        "reasons": list(reasons)[:100],
        "ack_message_id": ack_message_id,
        "business_keys": [{"kind": k, "value": v} for k, v in business_keys],
    }
    return HandoffEvent(event_id, event_type, partner, message_id, 0, "ack", set_label, body)


def sla_breach_event(
    *,
    breach_id: int,
    message_id: int,
    partner: str | None,
    object_kind: str,
    object_key: str,
    breach: dict[str, Any],
    set_ids: Iterable[str] = (),
    business_keys: Iterable[tuple[str, str]] = (),
    occurred_at: datetime,
) -> HandoffEvent:
    """A service level an order or shipment missed (``breach``: gateway.business.service_levels.Breach.to_dict);
    ``message_id`` is the document its window started at. Event id ``sla-<breach id>``: one per breach."""
    sets = [s for s in set_ids if s]
    event_id = f"sla-{breach_id}"
    set_label = sets[0] if len(sets) == 1 else (",".join(sets) or None)
    body: dict[str, Any] = {
        "event_id": event_id,
        "type": "sla.breached",
        "occurred_at": occurred_at.isoformat(),
        "partner": partner,
        "message_id": message_id,
        "set": set_label,
        "position": 0,
        "record_type": "sla",
        object_kind: object_key,
        "object": {"kind": object_kind, "key": object_key},
        "breach": breach,
        "business_keys": [{"kind": k, "value": v} for k, v in business_keys],
    }
    return HandoffEvent(event_id, "sla.breached", partner, message_id, 0, "sla", set_label, body)


# -- signing (webhook destinations) -----------------------------------------------------------------------------
def sign(secret: str, timestamp: str, event_id: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, timestamp + "." + event_id + "." + body)>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + event_id.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, event_id: str, event_type: str, body: bytes, now: float) -> dict[str, str]:
    ts = str(int(now))
    return {
        "Content-Type": "application/json",
        TIMESTAMP: ts,
        EVENT_ID: event_id,
        EVENT_TYPE: event_type,
        SIGNATURE: sign(secret, ts, event_id, body),
    }


def verify(secret: str, body: bytes, headers: dict[str, str], *, now: float, tolerance: float = 300) -> str:
    """What a receiver does (shown in docs/handoff.md): the event id when the signature holds, else ValueError."""
    h = {k.lower(): v for k, v in headers.items()}
    ts, event_id, sig = h.get(TIMESTAMP.lower(), ""), h.get(EVENT_ID.lower(), ""), h.get(SIGNATURE.lower(), "")
    if not ts.isdigit() or abs(now - int(ts)) > tolerance:
        raise ValueError("timestamp missing or too old")
    if not hmac.compare_digest(sig, sign(secret, ts, event_id, body)):
        raise ValueError("signature does not match")
    return event_id
