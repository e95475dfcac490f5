"""``gateway partners check``: everything that can be wrong in partner files, before the gateway runs them.

Beyond the schema (loader.py) this checks what depends on the machine: secret references resolve, certificates
are readable and not about to expire, mappings named by documents exist under ``mappings/``, and our own
certificates in ``config/gateway.yaml`` are usable. Each problem is a :class:`Problem` with file and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gateway.errors import SecretError
from gateway.partners.certificates import assess
from gateway.partners.channels import As2Channel
from gateway.partners.diagnostics import Problem, SourceMap, read_yaml
from gateway.partners.loader import LoadedPartner, load_partner_set, partner_files
from gateway.partners.secrets import resolve_secret, secret_refs
from gateway.settings import Settings


@dataclass
class CheckReport:
    files: list[Path]
    partners: list[LoadedPartner] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def expand(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        out.extend(partner_files(p) if p.is_dir() else [p])
    return out


def mapping_names(folder: Path) -> set[str]:
    """Names a document may use for a mapping file: its path under ``folder``, with or without extension."""
    names: set[str] = set()
    if not folder.is_dir():
        return names
    for f in folder.rglob("*"):
        if not f.is_file() or any(part.startswith(".") for part in f.relative_to(folder).parts):
            continue
        rel = f.relative_to(folder).as_posix()
        names.update({rel, rel.split(".", 1)[0] if "." in f.name else rel, f.name, f.name.split(".", 1)[0]})
    return names


def _fmt(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def check_secrets(lp: LoadedPartner, *, secrets_dir: Path | None, environ: Mapping[str, str] | None) -> list[Problem]:
    problems = []
    for loc, ref in secret_refs(lp.partner):
        try:
            resolve_secret(ref, secrets_dir=secrets_dir, environ=environ)
        except SecretError as exc:
            problems.append(Problem(str(lp.path), lp.line(*loc), _fmt(loc), f"{exc.message}; {exc.hint}"))
    return problems


def check_certificates(lp: LoadedPartner, *, now: datetime, warn_days: float) -> list[Problem]:
    problems = []
    for i, ch in enumerate(lp.partner.channels):
        if not isinstance(ch, As2Channel):
            continue
        for name in ("signing_certificates", "encryption_certificate"):
            paths = getattr(ch, name)
            if not paths:
                continue
            for f in assess(paths, now=now, warn_days=warn_days):
                problems.append(
                    Problem(str(lp.path), lp.line("channels", i, name), f"channels[{i}].{name}", f.message, f.severity)  # type: ignore[arg-type]
                )
    return problems


def check_mappings(lp: LoadedPartner, names: set[str], folder: Path) -> list[Problem]:
    problems = []
    for i, doc in enumerate(lp.partner.documents):
        if doc.mapping is None:
            continue
        name = doc.mapping.strip("/")
        if name not in names:
            known = sorted(n for n in names if "/" not in n and "." not in n)[:8]
            expected = f"one of: {', '.join(known)}" if known else f"the folder {folder} has no mapping files yet"
            problems.append(
                Problem(
                    str(lp.path),
                    lp.line("documents", i, "mapping"),
                    f"documents[{i}].mapping",
                    f"mapping {doc.mapping!r} does not exist under {folder}; expected the name of a mapping file "
                    f"({expected}), or leave mapping out",
                )
            )
    return problems


def check_not_us(lp: LoadedPartner, settings: Settings) -> list[Problem]:
    """A partner that claims one of our own ids (a copy-paste of our_ids into identity) would route our
    own interchanges to it: refused."""
    ours = {(settings.identity.isa_qualifier.upper(), settings.identity.isa_id.upper())}
    ours |= {(i.qualifier.upper(), i.id.upper()) for i in lp.partner.our_ids}
    problems = []
    for n, iid in enumerate(lp.partner.identity.interchange_ids):
        if (iid.qualifier.upper(), iid.id.upper()) in ours:
            problems.append(
                Problem(
                    str(lp.path),
                    lp.line("identity", "interchange_ids", n),
                    f"identity.interchange_ids[{n}]",
                    f"{iid} is our own interchange id (config/gateway.yaml identity or this file's our_ids): "
                    "identity.interchange_ids is the id the partner sends from",
                )
            )
    if settings.identity.as2_id and settings.identity.as2_id in lp.partner.as2_ids:
        problems.append(
            Problem(
                str(lp.path),
                lp.line("identity", "as2_id") or lp.line("channels"),
                "as2_id",
                f"AS2 id {settings.identity.as2_id!r} is our own (identity.as2_id in config/gateway.yaml): "
                "give the partner's AS2 id",
            )
        )
    return problems


ASYNC_MDN_SETTINGS = ("as2_mdn_url", "as2_message_id_domain", "as2_email")


def check_async_mdn(lp: LoadedPartner, settings: Settings) -> list[Problem]:
    """An outbound AS2 channel asking for asynchronous MDNs needs our MDN URL (where the partner sends them),
    our Message-ID domain and our AS2 address in config/gateway.yaml."""
    missing = [k for k in ASYNC_MDN_SETTINGS if not getattr(settings.identity, k)]
    if not missing:
        return []
    problems = []
    for i, ch in enumerate(lp.partner.channels):
        if isinstance(ch, As2Channel) and ch.outbound and ch.mdn == "async":
            names = ", ".join(f"identity.{k}" for k in missing)
            problems.append(
                Problem(
                    str(lp.path),
                    lp.line("channels", i, "mdn"),
                    f"channels[{i}].mdn",
                    f"mdn: async needs {names} in config/gateway.yaml (where the partner sends our MDNs, the "
                    "domain of our Message-IDs, our AS2 address); set them, or use mdn: sync",
                )
            )
    return problems


def check_own_identity(
    settings: Settings, *, now: datetime, environ: Mapping[str, str] | None, config_file: Path | None = None
) -> list[Problem]:
    """Our certificates and key references in config/gateway.yaml."""
    config = config_file or settings.home / "config" / "gateway.yaml"
    source = read_yaml(config)[1] if config.is_file() else SourceMap(None)
    file = str(config)
    problems = []
    for i, cert in enumerate(settings.identity.certificates):
        base = ("identity", "certificates", i)
        for f in assess([settings.path(cert.certificate)], now=now, warn_days=settings.certificate_warning_days):
            problems.append(
                Problem(file, source.line((*base, "certificate")), _fmt((*base, "certificate")), f.message, f.severity)  # type: ignore[arg-type]
            )
        if cert.private_key_file is not None and not settings.path(cert.private_key_file).is_file():
            problems.append(
                Problem(
                    file,
                    source.line((*base, "private_key_file")),
                    _fmt((*base, "private_key_file")),
                    f"private key file {settings.path(cert.private_key_file)} does not exist",
                )
            )
        for loc, ref in secret_refs(cert, base):
            try:
                resolve_secret(ref, secrets_dir=settings.secrets_path, environ=environ)
            except SecretError as exc:
                problems.append(Problem(file, source.line(loc), _fmt(loc), f"{exc.message}; {exc.hint}"))
    return problems


def check(
    settings: Settings,
    paths: Iterable[Path] | None = None,
    *,
    now: datetime,
    environ: Mapping[str, str] | None = None,
    own_identity: bool = True,
) -> CheckReport:
    files = expand(list(paths) if paths else [settings.partners_path])
    report = CheckReport(files=files)
    missing = [f for f in files if not f.exists()]
    report.problems.extend(Problem(str(f), None, None, "no such file or folder") for f in missing)
    loaded, problems = load_partner_set([f for f in files if f.exists()])
    report.partners = loaded
    report.problems.extend(problems)
    names = mapping_names(settings.mappings_path)
    for lp in loaded:
        if lp.path.stem != lp.partner.id:
            report.problems.append(
                Problem(
                    str(lp.path),
                    lp.line("id"),
                    "id",
                    f"the file is named {lp.path.name} but the partner id is {lp.partner.id!r}: name it "
                    f"{lp.partner.id}.yaml so the partner is easy to find",
                    "warning",
                )
            )
        report.problems.extend(check_not_us(lp, settings))
        report.problems.extend(check_async_mdn(lp, settings))
        report.problems.extend(check_secrets(lp, secrets_dir=settings.secrets_path, environ=environ))
        report.problems.extend(check_certificates(lp, now=now, warn_days=settings.certificate_warning_days))
        report.problems.extend(check_mappings(lp, names, settings.mappings_path))
    if own_identity:
        report.problems.extend(check_own_identity(settings, now=now, environ=environ))
    report.problems.sort(key=lambda p: (p.file, p.line or 0))
    return report
