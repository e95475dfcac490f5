"""``gateway partners``: check, list, show, scaffold and test partner files; print the JSON Schema.

Exit codes: 0 success; 1 a problem was found (``check``: any error; ``test``: any channel check failed);
2 usage or I/O error (unknown partner id, settings file missing).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gateway.cli.common import fail, settings_from
from gateway.errors import ConfigError, SecretError

if TYPE_CHECKING:  # partner models, YAML and certificates load when a command runs, not for its --help
    from gateway.partners.diagnostics import Problem
    from gateway.partners.loader import LoadedPartner

app = typer.Typer(
    name="partners",
    help="Check, list, show, create and test trading partner files (partners/*.yaml).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

CONFIG = typer.Option(None, "--config", "-c", help="settings file (default: config/gateway.yaml)")


def _now() -> datetime:
    return datetime.now(UTC)


@app.command("check", short_help="Validate partner files: each problem as FILE:LINE: FIELD.")
def check_cmd(
    paths: list[Path] = typer.Argument(None, help="partner files or folders (default: the partners folder)"),
    config: Path | None = CONFIG,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print problems only"),
    as_json: bool = typer.Option(False, "--json", help="the problems as a JSON list (for CI and editors)"),
) -> None:
    """Validate partner files: each problem as FILE:LINE: FIELD: what is wrong, what is expected."""
    from gateway.partners.check import check as run_check

    settings = settings_from(config)
    report = run_check(settings, paths or None, now=_now())
    if as_json:
        rows = [asdict(_relative(p)) for p in report.problems]
        typer.echo(json.dumps({"files": len(report.files), "valid": len(report.partners), "problems": rows}, indent=2))
        raise typer.Exit(1 if report.errors else 0)
    for problem in report.problems:
        typer.echo(_relative(problem).render())
    if not quiet:
        typer.echo(
            f"{len(report.files)} file(s), {len(report.partners)} partner(s) valid, "
            f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        )
    raise typer.Exit(1 if report.errors else 0)


def _relative(problem: Problem) -> Problem:
    """Paths below the current folder are shown relative to it, as editors and terminals link them."""
    try:
        rel = Path(problem.file).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return problem
    return replace(problem, file=str(rel))


def _loaded(config: Path | None) -> tuple[Any, list[LoadedPartner]]:
    from gateway.partners.loader import load_partner_set, partner_files

    settings = settings_from(config)
    loaded, problems = load_partner_set(partner_files(settings.partners_path))
    for p in problems:
        typer.echo(f"skipped: {p.render()}", err=True)
    return settings, loaded


def _find(config: Path | None, partner_id: str) -> tuple[Any, LoadedPartner]:
    settings, loaded = _loaded(config)
    for lp in loaded:
        if lp.partner.id == partner_id:
            return settings, lp
    known = ", ".join(lp.partner.id for lp in loaded) or "none"
    fail(ConfigError(f"no valid partner with id {partner_id!r} in {settings.partners_path} (known: {known})"))


@app.command("list", short_help="One line per valid partner: id, role, ids, channels, documents.")
def list_cmd(config: Path | None = CONFIG, as_json: bool = typer.Option(False, "--json")) -> None:
    """One line per valid partner: id, role, interchange ids, channels, documents."""
    _settings, loaded = _loaded(config)
    rows = []
    for lp in loaded:
        p = lp.partner
        rows.append(
            {
                "id": p.id,
                "name": p.name,
                "role": p.role,
                "interchange_ids": [str(i) for i in p.identity.interchange_ids],
                "channels": [f"{c.name}({c.type},{c.direction})" for c in p.channels],
                "documents": [f"{d.label}/{d.direction}" for d in p.documents],
                "file": str(lp.path),
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(
            f"{r['id']:<20} {r['role']:<10} {','.join(r['interchange_ids']):<22} "
            f"{' '.join(r['channels'])}  [{' '.join(r['documents'])}]"
        )


def _masked(obj: Any, settings: Any) -> Any:
    """The partner as data, each secret reference shown with whether it resolves, never its value."""
    from pydantic import BaseModel

    from gateway.partners.secrets import SecretRef, resolve_secret

    if isinstance(obj, SecretRef):
        try:
            resolve_secret(obj, secrets_dir=settings.secrets_path)
            state = "set"
        except SecretError:
            state = "NOT SET"
        return {"secret": obj.secret, "value": f"********** ({state})"}
    if isinstance(obj, BaseModel):
        out = {}
        for name in type(obj).model_fields:
            out[name] = _masked(getattr(obj, name), settings)
        return out
    if isinstance(obj, list | tuple):
        return [_masked(v, settings) for v in obj]
    if isinstance(obj, dict):
        return {k: _masked(v, settings) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "total_seconds"):
        from gateway.partners.types import format_duration

        return format_duration(obj)
    return obj


@app.command("show", short_help="A partner with its defaults filled in; secrets named, never shown.")
def show_cmd(partner_id: str, config: Path | None = CONFIG, as_json: bool = typer.Option(False, "--json")) -> None:
    """The partner with every default filled in; secrets show only their name and whether they are set."""
    import yaml

    settings, lp = _find(config, partner_id)
    data = {"file": str(lp.path), **_masked(lp.partner, settings)}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


@app.command("schema")
def schema_cmd(
    output: Path | None = typer.Option(None, "--output", "-o", help="write to this file instead of printing"),
) -> None:
    """The partner file's JSON Schema (editors validate as you type)."""
    from gateway.partners.jsonschema import partner_schema_text

    text = partner_schema_text()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


@app.command("new", short_help="Write a commented partner file from these answers.")
def new_cmd(
    partner_id: str = typer.Argument(..., help="lower-case id, e.g. acme-retail"),
    name: str = typer.Option(..., help="the partner's name"),
    isa_id: str = typer.Option(..., "--isa-id", help="ISA06 they send from"),
    qualifier: str = typer.Option("ZZ", help="ISA05 they send from"),
    role: str = typer.Option("other", help="retailer, warehouse, carrier, supplier, customer, other"),
    gs_id: str | None = typer.Option(None, "--gs-id", help="GS02 they send from (default: the ISA id)"),
    our_id: str | None = typer.Option(None, "--our-id", help="ISA08 they address us by, if not our identity"),
    our_qualifier: str = typer.Option("ZZ", "--our-qualifier"),
    test_usage: bool = typer.Option(False, "--test", help="ISA15 T (test) instead of P (production)"),
    document: list[str] = typer.Option(None, "--document", "-d", help="SET:DIRECTION[:VERSION[:MAPPING]], repeat"),
    channel: str = typer.Option("folder", help="folder (default), sftp or as2: the live channel besides folders"),
    sftp_host: str = typer.Option("sftp.partner.example", "--sftp-host"),
    sftp_user: str = typer.Option("gateway", "--sftp-user"),
    host_key: str | None = typer.Option(None, "--host-key", help="the SFTP server's key, 'ssh-ed25519 AAAA...'"),
    as2_id: str | None = typer.Option(None, "--as2-id"),
    as2_url: str = typer.Option("https://as2.partner.example/as2", "--as2-url"),
    output: Path | None = typer.Option(None, "--output", "-o", help="default: <partners folder>/<ID>.yaml"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
    config: Path | None = CONFIG,
) -> None:
    """Write a commented partner file from these answers (folder channels live, SFTP/AS2 shown commented)."""
    import yaml
    from pydantic import ValidationError

    from gateway.partners.scaffold import Answers, DocumentAnswer, render
    from gateway.partners.schema import Partner

    if channel not in ("folder", "sftp", "as2"):
        fail(ConfigError(f"--channel {channel!r}: expected folder, sftp or as2"))
    if channel == "sftp" and not host_key:
        fail(ConfigError("--channel sftp needs --host-key 'ssh-ed25519 AAAA...' (ssh-keyscan -t ed25519 HOST)"))
    try:
        docs = [DocumentAnswer.parse(d) for d in document or []]
    except ValueError as exc:
        fail(ConfigError(f"--document {exc}"))
    answers = Answers(
        id=partner_id,
        name=name,
        role=role,
        qualifier=qualifier,
        isa_id=isa_id,
        application_id=gs_id,
        our_id=our_id,
        our_qualifier=our_qualifier,
        usage="T" if test_usage else "P",
        documents=docs,
        channel=channel,
        sftp_host=sftp_host,
        sftp_user=sftp_user,
        host_key=host_key,
        as2_id=as2_id,
        as2_url=as2_url,
    )
    text = render(answers)
    try:
        Partner.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        fail(ConfigError(f"these answers do not make a valid partner: {problems}"))
    settings = settings_from(config)
    target = output or settings.partners_path / f"{partner_id}.yaml"
    if target.exists() and not force:
        fail(ConfigError(f"{target} exists already (use --force to overwrite)"))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)  # atomic: a running gateway never reads half a file
    typer.echo(f"wrote {target}; next: gateway partners check {target}")


@app.command("test", short_help="Try a partner's channels: SFTP login, AS2/webhook URL, certificates.")
def test_cmd(
    partner_id: str,
    config: Path | None = CONFIG,
) -> None:
    """Try each channel of a partner: SFTP login and listing, AS2/webhook URL answering, certificate dates."""
    from gateway.transports.probe import probe_partner

    settings, lp = _find(config, partner_id)
    results = probe_partner(lp.partner, settings, now=_now())
    for r in results:
        typer.echo(r.render())
    failed = [r for r in results if not r.ok and r.severity == "error"]
    typer.echo(f"{partner_id}: {len(results) - len(failed)} of {len(results)} checks passed")
    raise typer.Exit(1 if failed else 0)
