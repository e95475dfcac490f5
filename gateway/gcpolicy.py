"""The cyclic garbage collector of a long-running gateway process: what start-up built is set aside, and young
objects are collected less often.

CPython's collector runs a young (generation 0) collection after 700 more container objects were allocated than
freed, an older one every 10 of those, and a full one every 10 older ones (when the survivors since the last full
one are a quarter of those before). A full collection walks every tracked object of the process: the 100,000-
160,000 that importing the gateway (pydantic models, SQLAlchemy tables, FastAPI routes), loading partners and
compiling mappings made, which never die. A burst of small files makes thousands of short-lived objects each (parsed
segments, canonical records, events), so it triggers collections all the time.

:func:`settle`, once start-up is over (``gateway serve`` after the API's warm-up, each inbound worker process once
its gateway has started):

* collects once, then freezes (``gc.freeze()``) what survived: those objects are never walked again (nor freed:
  they live as long as the process anyway). The collection first, so that start-up's garbage is freed, not frozen.
* raises the young generation's threshold to :data:`THRESHOLDS`' first figure: a file's work allocates a few
  thousand objects, most of them freed by reference counting before any collection sees them; a threshold of 700
  collects in the middle of nearly every file. What a larger threshold keeps longer is only the garbage in
  reference cycles made since the last collection (a few hundred KB at most; the large files' peak RSS did not
  move: bench/results/gcrel.txt).

Figures (bench/results/gcrel.txt): bench/inbound_cpu.py, 500 small 856 files in-process, collector time per file
0.200 ms (collections [123, 11, 1]) without freeze, 0.059 ms frozen, 0.021 ms frozen with the threshold.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

THRESHOLDS = (10_000, 10, 10)  # young, middle, old: gc.set_threshold's three figures


@dataclass(frozen=True)
class Settled:
    frozen: int  # objects out of the collector's sight (gc.get_freeze_count())
    thresholds: tuple[int, int, int]

    def fields(self) -> dict[str, object]:
        """For a log record."""
        return {"frozen": self.frozen, "thresholds": list(self.thresholds)}


def settle(thresholds: tuple[int, int, int] = THRESHOLDS) -> Settled:
    """Collect, freeze what is left, set the thresholds (see the module's docstring); what it did.
    Called again later (e.g. after a reload), it freezes what has been built since as well."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    t = gc.get_threshold()
    return Settled(gc.get_freeze_count(), (t[0], t[1], t[2]))
