"""Read and validate partner files; every problem names its file, line and field (see diagnostics.py).

A bad file never hides the good ones: :func:`load_partners` returns the valid partners and the problems.
Across files, partner ids, interchange ids and AS2 ids must be unique: a file that claims an id another file
(earlier in name order) already claims is left out and named, so an id never maps to two partners.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from gateway.errors import ConfigError
from gateway.partners.diagnostics import Problem, SourceMap, read_yaml, validation_problems
from gateway.partners.schema import Partner

PARTNER_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedPartner:
    path: Path
    partner: Partner
    source: SourceMap

    def line(self, *loc: str | int) -> int | None:
        return self.source.line(loc)


def partner_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in PARTNER_SUFFIXES and not p.name.startswith(".")
                  and not p.name.endswith(".mapping.yaml"))  # mapping overrides sit beside partner files


def parse_partner_file(path: Path) -> tuple[LoadedPartner | None, list[Problem]]:
    data, source, problems = read_yaml(path)
    if problems:
        return None, problems
    file = str(path)
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}"
        return None, [Problem(file, 1, None, f"the file is {what}: a partner file is a mapping (id:, name:, ...)")]
    try:
        partner = Partner.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        return None, validation_problems(exc, file=file, source=source, data=data, model=Partner)
    return LoadedPartner(path, partner, source), []


def load_partner_file(path: Path) -> Partner:
    loaded, problems = parse_partner_file(path)
    if loaded is None:
        first = problems[0].to_error()
        if len(problems) > 1:
            first.message += f" (and {len(problems) - 1} more problems)"
            first.hint = "run 'gateway partners check' to see every problem"
        raise first
    return loaded.partner


def check_unique(loaded: Iterable[LoadedPartner]) -> list[Problem]:
    """Partner ids, interchange ids and AS2 ids must each belong to one file."""
    problems: list[Problem] = []
    ids: dict[str, LoadedPartner] = {}
    isa: dict[tuple[str, str], LoadedPartner] = {}
    as2: dict[str, LoadedPartner] = {}
    for lp in loaded:
        p, file = lp.partner, str(lp.path)
        if p.id in ids:
            other = ids[p.id]
            problems.append(
                Problem(
                    file,
                    lp.line("id"),
                    "id",
                    f"partner id {p.id!r} is already used by {other.path}:{other.line('id')}: "
                    "each partner file needs its own id",
                )
            )
        ids.setdefault(p.id, lp)
        for n, iid in enumerate(p.identity.interchange_ids):
            key = (iid.qualifier.upper(), iid.id.upper())
            if key in isa and isa[key].partner.id != p.id:
                other = isa[key]
                problems.append(
                    Problem(
                        file,
                        lp.line("identity", "interchange_ids", n),
                        f"identity.interchange_ids[{n}]",
                        f"interchange id {iid} is already claimed by partner {other.partner.id!r} ({other.path}): "
                        "an interchange id identifies exactly one partner",
                    )
                )
            isa.setdefault(key, lp)
        for as2_id in sorted(p.as2_ids):
            if as2_id in as2 and as2[as2_id].partner.id != p.id:
                other = as2[as2_id]
                problems.append(
                    Problem(
                        file,
                        lp.line("identity", "as2_id") or lp.line("channels"),
                        "as2_id",
                        f"AS2 id {as2_id!r} is already claimed by partner {other.partner.id!r} ({other.path})",
                    )
                )
            as2.setdefault(as2_id, lp)
    return problems


def load_partner_set(paths: Iterable[Path]) -> tuple[list[LoadedPartner], list[Problem]]:
    loaded: list[LoadedPartner] = []
    problems: list[Problem] = []
    for path in paths:
        lp, found = parse_partner_file(path)
        problems.extend(found)
        if lp is not None:
            loaded.append(lp)
    clashes = check_unique(loaded)
    problems.extend(clashes)
    bad = {c.file for c in clashes}
    return [lp for lp in loaded if str(lp.path) not in bad], problems


def load_partners(folder: Path) -> tuple[list[Partner], list[ConfigError]]:
    """Every valid partner in ``folder``, and every problem found."""
    loaded, problems = load_partner_set(partner_files(folder))
    return [lp.partner for lp in loaded], [p.to_error() for p in problems]
