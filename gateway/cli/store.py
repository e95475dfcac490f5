"""Commands for people on the server, mirroring the API: ``apikey``, ``messages``, ``db``, ``archive``.

They work on the store and archive named by the settings (``--config``, ``GATEWAY_*``), like ``gateway serve``.
Exit codes: 0 success, 1 the message or key does not exist / the action does not apply, 2 usage or settings error.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gateway.cli.common import fail, settings_from
from gateway.errors import GatewayError, InvalidActionError, NotFoundError, PayloadPurgedError
from gateway.store.states import ApiRole, Direction, MessageStatus  # no SQLAlchemy: --help stays fast

if TYPE_CHECKING:
    from gateway.store.search import MessageQuery

CONFIG = typer.Option(None, "--config", "-c", help="settings file (default: config/gateway.yaml)")

apikey_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
messages_app = typer.Typer(help="Search and inspect messages; resend or reprocess one.", no_args_is_help=True)
db_app = typer.Typer(help="The audit store's schema.", no_args_is_help=True)
archive_app = typer.Typer(help="The payload archive.", no_args_is_help=True)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _gateway(config: Path | None) -> Any:
    from gateway.runtime import Gateway

    settings = settings_from(config)
    try:
        return Gateway(settings)
    except GatewayError as exc:
        fail(exc)


def _engine(config: Path | None) -> Any:
    from gateway.store.db import create_db_engine
    from gateway.store.migrate import upgrade

    settings = settings_from(config)
    try:
        engine = create_db_engine(settings.database)
        upgrade(engine)
    except GatewayError as exc:
        fail(exc)
    return engine


def _done(exc: GatewayError) -> typer.Exit:
    typer.echo(f"error: {exc.describe()}", err=True)
    return typer.Exit(1)


# -- apikey ---------------------------------------------------------------------------------------------------
@apikey_app.command("create", short_help="Create an API key and print it once (a taken name is refused).")
def apikey_create(
    name: str = typer.Option(..., "--name", help="who or what uses the key (recorded on timelines)"),
    role: ApiRole = typer.Option(..., "--role", help="viewer reads; operator also resends/reprocesses; admin all"),
    rotate: bool = typer.Option(False, "--rotate", help="the name exists: give it a new key, the old one stops"),
    config: Path | None = CONFIG,
) -> None:
    """Create an API key and print it once (only its SHA-256 is stored). A name already taken is refused."""
    from gateway.store.apikeys import ApiKeys

    keys = ApiKeys(_engine(config))
    existed = rotate and any(k.name == name for k in keys.list())
    try:
        _row, token = keys.create(name, role, rotate=rotate)
    except GatewayError as exc:
        fail(exc)
    typer.echo(token)
    done = "rotated (the previous key no longer works)" if existed else "created"
    typer.echo(f"API key {name!r} ({role.value}) {done}: store it now, it is not shown again.", err=True)


@apikey_app.command("list", short_help="List API keys: name, role, prefix, state, last use (never the key).")
def apikey_list(config: Path | None = CONFIG) -> None:
    """List API keys: name, role, key prefix (not secret: it tells keys apart), state, last use. Never the keys."""
    from gateway.store.apikeys import ApiKeys

    keys = ApiKeys(_engine(config)).list()
    if keys:
        typer.echo("name\trole\tprefix\tstate\tlast used")
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        used = f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never"
        typer.echo(f"{k.name}\t{k.role}\t{k.prefix}...\t{state}\t{used}")


@apikey_app.command("revoke")
def apikey_revoke(name: str = typer.Argument(..., help="the key's name"), config: Path | None = CONFIG) -> None:
    """Revoke an API key: it stops working at once."""
    from gateway.store.apikeys import ApiKeys

    try:
        ApiKeys(_engine(config)).revoke(name)
    except NotFoundError as exc:
        raise _done(exc) from exc
    typer.echo(f"API key {name!r} revoked")


# -- messages -------------------------------------------------------------------------------------------------
@messages_app.command("search", short_help="Search messages, newest first, as a table (as GET /api/messages).")
def messages_search(
    q: str | None = typer.Argument(None, help="free text: PO, BOL, PRO, tracking, SSCC, file name (partial ok)"),
    partner: str | None = typer.Option(None, help="partner id"),
    direction: Direction | None = typer.Option(None),
    set_id: str | None = typer.Option(None, "--set-id", help="transaction set, e.g. 856"),
    status: MessageStatus | None = typer.Option(None),
    since: datetime | None = typer.Option(None, help="created at or after (UTC unless the value has a zone)"),
    until: datetime | None = typer.Option(None, help="created before (UTC unless the value has a zone)"),
    control_number: str | None = typer.Option(None, "--control-number", help="ISA13, GS06 or ST02"),
    as2_message_id: str | None = typer.Option(None, "--as2-message-id", help="AS2 Message-ID or transport id"),
    page: int = typer.Option(1, min=1),
    limit: int = typer.Option(20, min=1, max=500),
    utc: bool = typer.Option(False, "--utc", help="show times in UTC instead of this machine's time zone"),
    as_json: bool = typer.Option(False, "--json", help="print the API's JSON"),
    config: Path | None = CONFIG,
) -> None:
    """Search messages, newest first (the same search as GET /api/messages), as a table."""
    from datetime import UTC

    from gateway.api.schemas import MessagePage, MessageSummary
    from gateway.cli.table import local_time, render
    from gateway.store.repository import Store
    from gateway.store.search import MessageQuery

    def utc_of(d: datetime | None) -> datetime | None:
        return d.replace(tzinfo=UTC) if d is not None and d.tzinfo is None else d

    query = MessageQuery(
        q=q, partner=partner, direction=direction, set_id=set_id, status=status, since=utc_of(since),
        until=utc_of(until), control_number=control_number, transport_id=as2_message_id, page=page, limit=limit,
    )  # fmt: skip
    store = Store(_engine(config))
    res = store.search(query)
    if as_json:
        out = MessagePage(items=[MessageSummary.of(m) for m in res.items], total=res.total, page=page, limit=limit)
        typer.echo(out.model_dump_json(indent=2))
        return
    acks = _ack_states(store, [m.id for m in res.items if m.id is not None])
    zone = UTC if utc else None
    rows = [
        [str(m.id), local_time(m.created_at, zone), m.direction, m.partner_id or "-", m.set_ids or "-", m.status,
         m.ack_status or acks.get(m.id or 0, "-"), m.file_name or "-", m.reason or ""]
        for m in res.items
    ]  # fmt: skip
    if rows:
        headers = ["ID", "CREATED", "DIR", "PARTNER", "SETS", "STATUS", "ACK", "FILE", "REASON"]
        typer.echo(render(headers, rows, flexible=["FILE", "REASON"]))
    shown = f"; page {page} shows {len(res.items)}" if res.total > len(res.items) or page > 1 else ""
    typer.echo(f"{res.total} message(s){shown}", err=True)


def _ack_states(store: Any, ids: list[int]) -> dict[int, str]:
    """The latest acknowledgement linked to each message: '997 A', 'MDN processed' ..."""
    if not ids:
        return {}
    from sqlmodel import col, select

    from gateway.store.models import AckLink

    with store.session() as s:
        links = s.exec(select(AckLink).where(col(AckLink.message_id).in_(ids)).order_by(col(AckLink.id))).all()
    return {a.message_id: f"{a.kind} {a.result or ''}".strip() for a in links}


@messages_app.command("show", short_help="One message: control numbers, keys, acknowledgements, timeline.")
def messages_show(
    message_id: int = typer.Argument(..., min=1),
    as_json: bool = typer.Option(False, "--json", help="print the API's JSON"),
    config: Path | None = CONFIG,
) -> None:
    """Show one message: metadata, control numbers, business keys, acknowledgements, timeline."""
    from gateway.api.schemas import message_detail
    from gateway.store.repository import Store

    try:
        d = message_detail(Store(_engine(config)), message_id)
    except NotFoundError as exc:
        raise _done(exc) from exc
    if as_json:
        typer.echo(d.model_dump_json(indent=2))
        return
    typer.echo(f"message {d.id}: {d.direction} {d.partner_id or '-'} {','.join(d.set_ids) or '-'} {d.status}")
    typer.echo(f"  file {d.file_name or '-'} ({d.size} bytes, sha256 {d.sha256})")
    if d.reason:
        typer.echo(f"  reason: {d.reason}")
    for ic in d.interchanges:
        typer.echo(f"  ISA {ic.control_number} {ic.sender} -> {ic.receiver}")
        for g in ic.groups:
            sets = ", ".join(f"{t.set_id}/{t.control_number}" for t in g.transactions)
            typer.echo(f"    GS {g.control_number} {g.functional_id}: {sets}")
    if d.business_keys:
        typer.echo("  keys: " + ", ".join(f"{k.kind}={k.value}" for k in d.business_keys))
    typer.echo(f"  ack: {d.ack_status.state}" + (f" ({d.ack_status.kind})" if d.ack_status.kind else ""))
    if d.document_status is not None:
        ds = d.document_status
        due = f", due {ds.ack_due_at:%Y-%m-%d %H:%M} UTC" if ds.ack_due_at and ds.acknowledgement == "waiting" else ""
        typer.echo(f"  document: validation {ds.validation or '-'}, delivery {ds.delivery or '-'}, "
                   f"acknowledgement {ds.acknowledgement or '-'}{due}")
    for e in d.timeline:
        typer.echo(f"  {e.at:%Y-%m-%d %H:%M:%S} {e.name} {e.status or ''} [{e.actor}]")


def _run_action(gw: Any, name: str, message_id: int, *, force: bool = False) -> Any:
    from gateway.flows import actions

    if name == "resend":  # through the retry wrapper: a transient failure is picked up by the retry sweep
        return actions.resend(
            store=gw.store, archive=gw.archive, registry=lambda: gw.registry, outbound=gw.retries,
            message_id=message_id, actor=_actor(),
        )  # fmt: skip
    return actions.reprocess(
        store=gw.store, archive=gw.archive, inbound=gw.inbound, message_id=message_id, actor=_actor(), force=force
    )


def _bulk(
    name: str, ids: list[int], filters: MessageQuery | None, yes: bool, config: Path | None, *, force: bool = False
) -> None:
    """Run ``name`` on each message (ids, or every message the filters match), with a progress bar."""
    gw = _gateway(config)
    failures = 0
    try:
        if filters is not None:
            ids = _matching_ids(gw.store, filters)
            if not ids:
                typer.echo("no message matches", err=True)
                return
            if not yes:
                typer.confirm(f"{name} {len(ids)} message(s)?", abort=True, err=True)
        results: list[str] = []
        with typer.progressbar(ids, label=f"{name}", file=sys.stderr, show_pos=True,
                               hidden=len(ids) < 2) as bar:  # fmt: skip
            for message_id in bar:
                try:
                    m = _run_action(gw, name, message_id, force=force)
                except (NotFoundError, PayloadPurgedError, InvalidActionError) as exc:
                    failures += 1
                    results.append(f"message {message_id}: error: {exc.describe()}")
                    continue
                results.append(f"message {m.id}: {m.status}" + (f" ({m.reason})" if m.reason else ""))
    finally:
        gw.engine.dispose()
    for line in results:
        typer.echo(line, err=line.split(": ", 2)[1].startswith("error"))
    if failures:
        raise typer.Exit(1)


def _matching_ids(store: Any, query: MessageQuery) -> list[int]:
    from dataclasses import replace

    ids: list[int] = []
    page = 1
    while True:
        res = store.search(replace(query, page=page, limit=500))
        ids += [m.id for m in res.items if m.id is not None]
        if page * 500 >= res.total or not res.items:
            return ids
        page += 1


def _filters(partner: str | None, status: MessageStatus | None, set_id: str | None, direction: Direction) -> Any:
    if partner is None and status is None and set_id is None:
        return None
    from gateway.store.search import MessageQuery

    return MessageQuery(partner=partner, status=status, set_id=set_id, direction=direction)


BULK_PARTNER = typer.Option(None, "--partner", help="every message of this partner (with --status/--set-id)")
BULK_STATUS = typer.Option(None, "--status", help="every message in this status, e.g. dead or failed")
BULK_SET = typer.Option(None, "--set-id", help="every message of this transaction set")
BULK_YES = typer.Option(False, "--yes", "-y", help="do not ask for confirmation (bulk by filter)")


@messages_app.command("resend", short_help="Deliver outbound messages again (ids, or by filters).")
def messages_resend(
    message_ids: list[int] = typer.Argument(None, help="message ids (or use the filters)", min=1),
    partner: str | None = BULK_PARTNER,
    status: MessageStatus | None = BULK_STATUS,
    set_id: str | None = BULK_SET,
    yes: bool = BULK_YES,
    config: Path | None = CONFIG,
) -> None:
    """Deliver outbound messages again from their archived bytes (ids, or every one the filters match)."""
    filters = _filters(partner, status, set_id, Direction.outbound)
    if not message_ids and filters is None:
        raise typer.BadParameter("give message ids, or --partner/--status/--set-id")
    _bulk("resend", list(message_ids or []), filters if not message_ids else None, yes, config)


@messages_app.command("reprocess", short_help="Run the inbound flow again on archived bytes (ids, or filters).")
def messages_reprocess(
    message_ids: list[int] = typer.Argument(None, help="message ids (or use the filters)", min=1),
    partner: str | None = BULK_PARTNER,
    status: MessageStatus | None = BULK_STATUS,
    set_id: str | None = BULK_SET,
    yes: bool = BULK_YES,
    force: bool = typer.Option(False, "--force", help="process a duplicate interchange anyway (recorded with you)"),
    config: Path | None = CONFIG,
) -> None:
    """Run the inbound flow again on archived bytes (ids, or every inbound message the filters match)."""
    filters = _filters(partner, status, set_id, Direction.inbound)
    if not message_ids and filters is None:
        raise typer.BadParameter("give message ids, or --partner/--status/--set-id")
    _bulk("reprocess", list(message_ids or []), filters if not message_ids else None, yes, config, force=force)


# -- db, archive ----------------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(config: Path | None = CONFIG) -> None:
    """Apply the schema migrations (the gateway also does this at start)."""
    from gateway.store.db import redact_url
    from gateway.store.migrate import current_revision

    settings = settings_from(config)
    engine = _engine(config)
    typer.echo(f"{redact_url(settings.database)}: schema at revision {current_revision(engine)}")


@archive_app.command("purge", short_help="Remove payloads of finished messages past retention (keeps metadata).")
def archive_purge(
    older_than_days: int | None = typer.Option(
        None, "--older-than-days", min=1, help="default: the archive_retention_days setting"
    ),
    config: Path | None = CONFIG,
) -> None:
    """Remove archived payloads of finished messages older than the retention period (metadata is kept)."""
    from datetime import UTC, timedelta

    from gateway.store.retention import count_purgeable

    gw = _gateway(config)
    try:
        days = older_than_days or gw.settings.archive_retention_days
        total = count_purgeable(gw.store, before=datetime.now(UTC) - timedelta(days=days)) if days else 0
        with typer.progressbar(length=total, label="purge", file=sys.stderr, show_pos=True,
                               hidden=total < 2) as bar:  # fmt: skip
            res = gw.purge_archive(days=older_than_days, actor=_actor(), progress=bar.update)
    except GatewayError as exc:
        fail(exc)
    finally:
        gw.engine.dispose()
    typer.echo(
        json.dumps({"before": res.cutoff.isoformat(), "messages": res.messages, "outputs": res.outputs,
                    "blobs_deleted": res.blobs_deleted})
    )  # fmt: skip
