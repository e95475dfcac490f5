"""Read and validate every partner file in a folder; problems come back as ConfigErrors naming file and field."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from gateway.errors import ConfigError, Location
from gateway.partners.schema import Partner

PARTNER_SUFFIXES = (".yaml", ".yml")


def partner_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in PARTNER_SUFFIXES and not p.name.startswith(".")
                  and not p.name.endswith(".mapping.yaml"))  # mapping overrides sit beside partner files


def load_partner_file(path: Path) -> Partner:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the partner file: {exc.strerror}", location=Location(file=str(path))) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            location=Location(file=str(path), line=mark.line + 1 if mark else None),
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            "a partner file must be a mapping (id:, name:, identity: ...)", location=Location(file=str(path))
        )
    try:
        return Partner.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ConfigError(
            f"{first['msg']}{more}",
            location=Location(file=str(path), field=field),
            hint="run 'gateway partners check' to see every problem",
        ) from exc


def check_unique(partners: Iterable[tuple[Path, Partner]]) -> list[ConfigError]:
    """Partner ids and interchange ids must be unique across files."""
    problems: list[ConfigError] = []
    ids: dict[str, Path] = {}
    isa: dict[tuple[str, str], tuple[Path, str]] = {}
    for path, p in partners:
        if p.id in ids:
            problems.append(
                ConfigError(
                    f"partner id {p.id!r} is already used by {ids[p.id]}",
                    location=Location(file=str(path), field="id"),
                )
            )
        ids.setdefault(p.id, path)
        for iid in p.identity.interchange_ids:
            key = (iid.qualifier, iid.id)
            if key in isa and isa[key][1] != p.id:
                problems.append(
                    ConfigError(
                        f"interchange id {iid} is already claimed by partner {isa[key][1]!r} ({isa[key][0]})",
                        location=Location(file=str(path), field="identity.interchange_ids"),
                    )
                )
            isa.setdefault(key, (path, p.id))
    return problems


def load_partners(folder: Path) -> tuple[list[Partner], list[ConfigError]]:
    """Every valid partner, and every problem found (a bad file does not hide the good ones)."""
    loaded: list[tuple[Path, Partner]] = []
    problems: list[ConfigError] = []
    for path in partner_files(folder):
        try:
            loaded.append((path, load_partner_file(path)))
        except ConfigError as exc:
            problems.append(exc)
    dupes = check_unique(loaded)
    problems.extend(dupes)
    bad_files = {d.location.file for d in dupes if d.location}
    return [p for path, p in loaded if str(path) not in bad_files], problems
