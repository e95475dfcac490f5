"""One X12 segment: its id and data elements, split from the text the reader found."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.edi.x12.delimiters import Delimiters

_DEFAULT = Delimiters()


class Segment:
    """A segment as read: ``elements[0]`` is the segment id, ``elements[n]`` is data element *n* (1-based).

    Elements are kept as sent (composites and repetitions unsplit, padding kept); :meth:`components` and
    :meth:`repetitions` split them with the segment's own delimiters. ``position`` is the 1-based ordinal of the
    segment in the file (envelope segments included), 0 for segments built in memory.
    """

    __slots__ = ("delimiters", "elements", "id", "position", "text")
    elements: list[str]
    id: str

    def __init__(self, text: str, delimiters: Delimiters = _DEFAULT, position: int = 0) -> None:
        self.text = text
        self.delimiters = delimiters
        self.position = position
        # split eagerly: every consumer reads the id, and a slot is cheaper than a lazy property (bench/x12_read.py)
        els = self.elements = text.split(delimiters.element)
        self.id = els[0]

    @classmethod
    def of(cls, segment_id: str, *elements: str | Sequence[str], delimiters: Delimiters = _DEFAULT) -> Segment:
        """Build a segment from an id and element values (a sequence value is a composite's components)."""
        values = [segment_id]
        for value in elements:
            if isinstance(value, str):
                values.append(value)
            else:
                values.append((delimiters.component or ":").join(value))
        seg = cls(delimiters.element.join(values), delimiters)
        seg.elements = values
        seg.id = segment_id
        return seg

    def __len__(self) -> int:
        """Number of data elements (the id not counted)."""
        return len(self.elements) - 1

    def element(self, position: int) -> str:
        """Data element by 1-based position; ``""`` when absent."""
        els = self.elements
        return els[position] if 0 < position < len(els) else ""

    def __getitem__(self, position: int) -> str:
        return self.element(position)

    def repetitions(self, position: int) -> list[str]:
        value = self.element(position)
        rep = self.delimiters.repetition
        return value.split(rep) if rep and value else [value]

    def components(self, position: int, repetition: int = 1) -> list[str]:
        value = self.repetitions(position)[repetition - 1] if self.delimiters.repetition else self.element(position)
        comp = self.delimiters.component
        return value.split(comp) if comp and value else [value]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Segment):
            return self.elements == other.elements
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self.elements))

    def __repr__(self) -> str:
        return f"Segment({self.text!r})"

    def __str__(self) -> str:
        return self.text
