"""Plain-text tables for the terminal: a header row, columns sized to their content, long cells cut with an
ellipsis so a row fits the terminal (the columns named ``flexible`` give way first). No colours, so the output
pipes cleanly into grep, less or a file; ``--json`` is there for programs."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import datetime, tzinfo


def local_time(value: datetime | None, zone: tzinfo | None = None) -> str:
    """A zone-aware time in the given zone (default: this machine's), with its UTC offset."""
    if value is None:
        return "-"
    from datetime import UTC

    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    shown = aware.astimezone(zone) if zone is not None else aware.astimezone()
    return shown.strftime("%Y-%m-%d %H:%M:%S %z")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else (text[: max(0, width - 1)] + "…")


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    flexible: Sequence[str] = (),
    width: int | None = None,
    min_flex: int = 12,
) -> str:
    total = width or shutil.get_terminal_size((160, 24)).columns
    cells = [[str(c).replace("\n", " ") for c in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    gap = 2
    need = sum(widths) + gap * (len(widths) - 1)
    flex = [i for i, h in enumerate(headers) if h in flexible]
    for i in reversed(flex):  # shrink the flexible columns, last first, down to min_flex
        if need <= total:
            break
        cut = min(need - total, widths[i] - max(min_flex, len(headers[i])))
        if cut > 0:
            widths[i] -= cut
            need -= cut
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for r in cells:
        lines.append("  ".join(_cut(c, w).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)
