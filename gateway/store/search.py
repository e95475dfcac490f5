"""Message search: filters, free text over business keys and file names, newest first, with a total count.

Every value reaches the database as a bound parameter (never interpolated into SQL). Free text is split on
whitespace; each term must match one of the message's business keys (or its file name). A term that equals some
key exactly (a complete PO or tracking number, pasted) matches the keys equal to it; any other term matches as a
substring, through the trigram indexes (long digit-only terms are slow to intersect there, and a complete number is
what support staff usually paste; an SSCC's 18 digits also equal the key recorded with its ``00`` application
identifier, :func:`key_forms`):

* SQLite: the FTS5 trigram index ``business_key_fts`` (substring match, case-insensitive) for terms of 3 or
  more characters; shorter terms match a whole key exactly.
* PostgreSQL: ``ILIKE '%term%'`` served by the pg_trgm GIN index; shorter terms match a whole key exactly.

Control numbers match the ISA13, GS06 or ST02 of any interchange/group/set in the message, with or without
leading zeros ("91" finds ISA13 000000091 and GS06 91).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from gateway.store.models import (
    BusinessKey,
    Direction,
    FunctionalGroup,
    Interchange,
    Message,
    MessageStatus,
    TransactionSet,
)

MAX_TERMS = 8
MIN_TRIGRAM = 3


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Search filters; ``None`` means "any". ``since`` is inclusive, ``until`` exclusive."""

    q: str | None = None
    partner: str | None = None
    direction: Direction | None = None
    set_id: str | None = None
    status: MessageStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    control_number: str | None = None
    transport_id: str | None = None  # AS2 Message-ID, remote path, webhook delivery id
    validation_status: str | None = None  # outbound documents: valid, invalid
    delivery_status: str | None = None  # pending, sent, delivered, failed, dead
    ack_status: str | None = None  # not_expected, waiting, accepted, ..., overdue
    handoff: str | None = None  # hand-off status (unrouted, pending, retrying, delivered, dead, skipped)
    page: int = 1
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Message]
    total: int
    page: int
    limit: int


def terms_of(q: str | None) -> list[str]:
    return [t for t in (q or "").split() if t][:MAX_TERMS]


def control_number_candidates(value: str) -> list[str]:
    value = value.strip()
    out = {value}
    if value.isdigit():
        bare = value.lstrip("0") or "0"
        out |= {bare, bare.zfill(4), bare.zfill(9)}
    return sorted(out)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def key_forms(term: str) -> Any:
    """Business-key rows equal to ``term``; for 18 digits (an SSCC as the canonical record holds it), also the SSCC
    recorded with its ``00`` application identifier, as MAN*GM carries it: the inbound flow records that form only
    (:func:`gateway.flows.business_keys.recorded_forms`), and the 18 digits find it as when both were recorded."""
    exact = col(BusinessKey.value) == term
    if len(term) == 18 and term.isascii() and term.isdigit():
        return sa.or_(exact, sa.and_(col(BusinessKey.value) == "00" + term, col(BusinessKey.kind) == "sscc"))
    return exact


def _term_condition(dialect: str, term: str, whole: bool) -> Any:
    """Business-key rows matching one free-text term (``whole``: some key equals the term: match those only)."""
    exact = key_forms(term)
    if whole or len(term) < MIN_TRIGRAM:
        return exact
    if dialect == "sqlite":
        fts = sa.table("business_key_fts")
        phrase = '"' + term.replace('"', '""') + '"'  # an FTS5 string: the term as a literal, bound below
        rowids: Any = (
            sa.select(sa.literal_column("rowid"))
            .select_from(fts)
            .where(sa.literal_column("business_key_fts").op("MATCH")(sa.bindparam(None, phrase, type_=sa.String)))
        )
        return sa.or_(exact, col(BusinessKey.id).in_(rowids))
    pattern = f"%{_escape_like(term)}%"
    return sa.or_(exact, col(BusinessKey.value).ilike(pattern, escape="\\"))


def whole_keys(session: Session, terms: Sequence[str]) -> set[str]:
    """The terms that equal some business key exactly (one indexed probe each)."""
    return {
        t
        for t in terms
        if session.exec(select(BusinessKey.id).where(key_forms(t)).limit(1)).first() is not None
    }


def _among(dialect: str, ids: Any) -> Any:
    """``message.id`` is one of the (few) ids ``ids`` selects.

    PostgreSQL: ``id = ANY(ARRAY(subquery))``, so the ids are collected first and fetched by primary key; with a
    plain ``IN`` the planner, misled by the full-text index's default selectivity, may hash-join against a
    sequential scan of every message.
    """
    if dialect == "postgresql":
        return col(Message.id) == func.any(func.array(ids.scalar_subquery()))
    return col(Message.id).in_(ids)


def conditions(query: MessageQuery, dialect: str, whole: set[str] | frozenset[str] = frozenset()) -> list[Any]:
    conds: list[Any] = []
    if query.partner:
        conds.append(col(Message.partner_id) == query.partner)
    if query.direction is not None:
        conds.append(col(Message.direction) == Direction(query.direction).value)
    if query.status is not None:
        conds.append(col(Message.status) == MessageStatus(query.status).value)
    for column, value in (
        (Message.validation_status, query.validation_status),
        (Message.delivery_status, query.delivery_status),
        (Message.ack_status, query.ack_status),
    ):
        if value is not None:
            conds.append(col(column) == str(value))
    if query.handoff is not None:
        conds.append(col(Message.handoff_status) == query.handoff)
    if query.since is not None:
        conds.append(col(Message.created_at) >= query.since)
    if query.until is not None:
        conds.append(col(Message.created_at) < query.until)
    if query.transport_id and query.transport_id.strip("<> "):
        # an AS2 Message-ID is pasted with or without its angle brackets; stores may keep either form
        bare = query.transport_id.strip().strip("<>").strip()
        conds.append(col(Message.transport_id).in_(sorted({query.transport_id, bare, f"<{bare}>"})))
    if query.set_id:
        sets = select(TransactionSet.message_id).where(col(TransactionSet.set_id) == query.set_id)
        conds.append(col(Message.id).in_(sets))
    if query.control_number and query.control_number.strip():
        cands = control_number_candidates(query.control_number)
        ids = sa.union(
            select(Interchange.message_id).where(col(Interchange.control_number).in_(cands)),
            select(FunctionalGroup.message_id).where(col(FunctionalGroup.control_number).in_(cands)),
            select(TransactionSet.message_id).where(col(TransactionSet.control_number).in_(cands)),
        )
        conds.append(_among(dialect, sa.select(ids.subquery().c[0])))
    for term in terms_of(query.q):
        keyed = select(BusinessKey.message_id).where(_term_condition(dialect, term, term in whole))
        conds.append(_among(dialect, keyed))
    return conds


def search_messages(session: Session, query: MessageQuery) -> Page:
    dialect = session.get_bind().dialect.name
    conds = conditions(query, dialect, whole_keys(session, terms_of(query.q)))
    total = session.exec(select(func.count()).select_from(Message).where(*conds)).one()
    newest: Any = col(Message.created_at)
    if terms_of(query.q) or (query.control_number and query.control_number.strip()):
        # Few candidates, found through the key/control-number indexes: sort them. Without this fence, a small
        # LIMIT tempts the planner into walking the created_at index over every message, probing each one.
        newest = func.coalesce(Message.created_at, Message.created_at)
    rows = session.exec(
        select(Message)
        .where(*conds)
        .order_by(newest.desc(), col(Message.id).desc())
        .offset((query.page - 1) * query.limit)
        .limit(query.limit)
    ).all()
    return Page(items=list(rows), total=int(total), page=query.page, limit=query.limit)


# -- statistics ---------------------------------------------------------------------------------------------------
def _day(dialect: str) -> Any:
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", Message.created_at), sa.Date)
    return func.date(Message.created_at)


def stats(session: Session, *, since: datetime, partner: str | None = None) -> dict[str, Any]:
    """Message counts since ``since``: by partner, by status, by direction, and by (UTC) day."""
    dialect = session.get_bind().dialect.name
    conds: list[Any] = [col(Message.created_at) >= since]
    if partner:
        conds.append(col(Message.partner_id) == partner)

    def grouped(*columns: Any) -> Sequence[Any]:
        return session.execute(
            sa.select(*columns, func.count()).where(*conds).group_by(*columns).order_by(*columns)
        ).all()

    day = _day(dialect).label("day")
    by_day: dict[str, dict[str, int]] = {}
    for d, status, n in grouped(day, Message.status):
        key = d.isoformat() if isinstance(d, date) else str(d)
        by_day.setdefault(key, {})[status] = int(n)
    return {
        "since": since,
        "total": sum(int(n) for _s, n in grouped(Message.status)),
        "by_status": {s: int(n) for s, n in grouped(Message.status)},
        "by_direction": {d: int(n) for d, n in grouped(Message.direction)},
        "by_partner": {p or "(unknown)": int(n) for p, n in grouped(Message.partner_id)},
        "by_day": [{"day": d, "counts": c, "total": sum(c.values())} for d, c in sorted(by_day.items())],
    }


def default_since(now: datetime, days: int = 30) -> datetime:
    return now - timedelta(days=days)
