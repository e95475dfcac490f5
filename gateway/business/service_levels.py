"""Which declared service levels a business object breaches, and when to look again (pure).

A service level (declared in a partner file, ``service_levels:``) says that milestone ``to`` must follow milestone
``start`` within a duration, e.g. ``{name: shipping-advice, start: ordered, to: shipped, within: 24h}``. Measured
against ``now``:

* a level starting at ``ordered`` is measured on orders, every other one on shipments (a shipment's timeline
  includes its order's documents, and an order's its shipments': measured on both, one miss would count twice);
* ``start`` not reached: nothing to measure yet;
* ``to`` reached: breached (``late``) when it came after the window, kept otherwise;
* ``to`` not reached: breached (``missing``) once ``now`` is past the window; otherwise the end of the window is
  when the object must be looked at again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Level:
    partner_id: str
    name: str
    start: str
    to: str
    within: timedelta

    @property
    def key(self) -> str:
        """Unique on an object: the partner file and the level's name."""
        return f"{self.partner_id}:{self.name}"


@dataclass(frozen=True, slots=True)
class Breach:
    level: Level
    kind: str  # "missing" or "late"
    started_at: datetime
    due_at: datetime
    reached_at: datetime | None

    def describe(self) -> str:
        hours = self.level.within.total_seconds() / 3600
        if self.kind == "late":
            late = (self.reached_at - self.due_at) if self.reached_at else timedelta(0)
            return (f"{self.level.name}: {self.level.to} came {_human(late)} after its window "
                    f"({hours:g} h from {self.level.start})")
        return (f"{self.level.name}: no {self.level.to} within {hours:g} h of {self.level.start} "
                f"(due {self.due_at.isoformat(timespec='minutes')})")

    def to_dict(self) -> dict[str, Any]:
        return {"service_level": self.level.name, "partner": self.level.partner_id, "kind": self.kind,
                "start": self.level.start, "expected": self.level.to,
                "within_hours": self.level.within.total_seconds() / 3600,
                "started_at": self.started_at.isoformat(), "due_at": self.due_at.isoformat(),
                "reached_at": self.reached_at.isoformat() if self.reached_at else None, "reason": self.describe()}


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def applies(level: Level, object_kind: str) -> bool:
    return (level.start == "ordered") == (object_kind == "order")


def evaluate(levels: list[Level], milestones: dict[str, datetime], now: datetime, *, object_kind: str = "order",
             ) -> tuple[list[Breach], datetime | None]:
    """The breaches at ``now`` and the next time a window ends (None: nothing left to watch)."""
    breaches: list[Breach] = []
    next_check: datetime | None = None
    for level in levels:
        if not applies(level, object_kind):
            continue
        started = milestones.get(level.start)
        if started is None:
            continue
        due = started + level.within
        reached = milestones.get(level.to)
        if reached is not None:
            if reached > due:
                breaches.append(Breach(level, "late", started, due, reached))
        elif now >= due:
            breaches.append(Breach(level, "missing", started, due, None))
        elif next_check is None or due < next_check:
            next_check = due
    return breaches, next_check
