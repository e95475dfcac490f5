"""Element paths in mapping files: ``W05.02``, ``G62[01=10].02``, ``N9[01=PO|CO].02``, ``LIN.03.1``, ``../LX.01``.

``SEG`` is a segment id; ``[EE=A|B]`` keeps only segments whose element EE is one of the values (a condition on a
qualifier; ``[EE=]`` means empty); then the element position and optionally the component position (1-based). Each
leading ``../`` moves to the enclosing loop instance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.errors import ConfigError

_PATH = re.compile(r"^((?:\.\./)*)([A-Z][A-Z0-9]{1,2})((?:\[\d{2}=[^\]]*\])*)\.(\d{2})(?:\.(\d{1,2}))?$")
_FILTER = re.compile(r"\[(\d{2})=([^\]]*)\]")


@dataclass(frozen=True, slots=True)
class Path:
    text: str
    up: int
    segment: str
    filters: tuple[tuple[int, tuple[str, ...]], ...]
    element: int
    component: int | None

    def matches(self, seg) -> bool:  # seg: Segment
        return seg.id == self.segment and self.passes(seg)

    def passes(self, seg) -> bool:
        """The qualifier conditions only (the caller already knows the segment id)."""
        return all(seg.element(pos).strip() in values for pos, values in self.filters)


_CACHE: dict[str, Path] = {}


def parse_path(text: str) -> Path:
    cached = _CACHE.get(text)
    if cached is not None:
        return cached
    m = _PATH.match(text.strip())
    if not m:
        raise ConfigError(f"{text!r} is not an element path (expected e.g. W05.02, G62[01=10].02, LIN.03.1)")
    filters = tuple((int(pos), tuple(values.split("|"))) for pos, values in _FILTER.findall(m.group(3)))
    path = Path(text, m.group(1).count("../"), m.group(2), filters, int(m.group(4)),
                int(m.group(5)) if m.group(5) else None)
    _CACHE[text] = path
    return path
