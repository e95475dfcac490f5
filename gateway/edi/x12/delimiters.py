"""Delimiters and the ISA interchange header: find how an interchange is written before reading it.

The ISA segment is fixed-width (106 characters: ``ISA``, 16 elements, the terminator); its fourth character is the
element separator, ISA16 is the component separator, the character after ISA16 terminates segments, and ISA11 is
the repetition separator from version 00402 on. Real partners break every one of these rules, so
:func:`parse_isa` does not rely on fixed positions. It splits the ISA on its element separator, bounds it by the
next control segment (``GS``, ``TA1``, ``IEA``, ``ISB``, ``ISE``, ``ST``) and then decides, from what lies between
the sixteenth separator and that next segment, which character is ISA16 and which is the terminator:

* ``>~`` then anything: ISA16 ``>``, terminator ``~`` (the normal case, whatever whitespace follows);
* ``>`` then a line break: either a newline terminator with ISA16 ``>``, or a missing ISA16 with ``>`` as the
  terminator and a newline after each segment. The following lines decide: if every one of them ends with ``>``,
  it is the terminator;
* nothing then a line break: ISA16 missing, newline terminator;
* ``::~``: a two-character ISA16 (an error), terminator ``~``.

Line breaks inside the ISA (hard-wrapped files) are removed and reported. The findings are returned as
:class:`HeaderProblem` records; the envelope analyser turns them into issues (errors or, for tolerated deviations
in tolerant mode, warnings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Positions of the 16 element separators in a fixed-width ISA.
ISA_SEPARATOR_POSITIONS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
#: Fixed widths of ISA01..ISA16.
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
NEWLINE = "\n"
_LINE_BREAKS = "\r\n"
_NEXT_SEGMENTS = ("GS", "TA1", "IEA", "ISB", "ISE", "ISX", "ST")
#: How much text after ``ISA`` the header parser wants before deciding (unless the input ends sooner).
HEADER_WINDOW = 4096


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The four X12 delimiters, plus what follows each terminator in the file (``suffix``, for writing).

    ``segment`` is ``"\\n"`` for newline-terminated files (CR LF is read as one line break). ``component`` is
    ``None`` when ISA16 is missing; ``repetition`` is ``None`` before version 00402 or when ISA11 is not a
    separator.
    """

    element: str = "*"
    component: str | None = ":"
    repetition: str | None = None
    segment: str = "~"
    suffix: str = ""

    def __post_init__(self) -> None:
        for name in ("element", "segment"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) != 1:
                raise ValueError(f"{name} separator must be one character, got {value!r}")

    def problems(self) -> list[str]:
        """Why these delimiters cannot be used together (empty when they can)."""
        out: list[str] = []
        named = [("element separator", self.element), ("segment terminator", self.segment)]
        if self.component is not None:
            named.append(("component separator", self.component))
        if self.repetition is not None:
            named.append(("repetition separator", self.repetition))
        for name, value in named:
            if len(value) != 1:
                out.append(f"{name} {value!r} is not one character")
            elif value.isalnum() or value == " ":
                out.append(f"{name} {value!r} is a letter, digit or space")
        values = [value for _, value in named]
        if len(set(values)) != len(values):
            out.append("two delimiters are the same character: " + ", ".join(f"{n} {v!r}" for n, v in named))
        return out

    @property
    def ascii(self) -> bool:
        return all(
            v is None or v.isascii() for v in (self.element, self.component, self.repetition, self.segment)
        )


@dataclass(frozen=True, slots=True)
class HeaderProblem:
    """A finding of :func:`parse_isa`: an issue code (see :mod:`.issues`), a message, and where."""

    code: str
    message: str
    element_position: int | None = None
    x12_code: str | None = None


@dataclass(slots=True)
class IsaHeader:
    """A parsed ISA: its 16 elements as sent (padding kept, line breaks removed) and the delimiters."""

    elements: list[str]  # ISA01..ISA16 (index 0 is ISA01); missing elements are absent
    delimiters: Delimiters | None  # None when no usable delimiters could be found (fatal)
    length: int  # characters of input consumed, up to the start of the next segment
    problems: list[HeaderProblem] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.delimiters is not None

    def element(self, position: int) -> str:
        """ISA element by 1-based position, ``""`` when absent."""
        return self.elements[position - 1] if 0 < position <= len(self.elements) else ""


def _preceded_by_boundary(text: str, index: int, element: str) -> bool:
    """True when the segment id at ``index`` starts a segment (after a terminator or whitespace)."""
    j = index - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    if j < 0:
        return True
    ch = text[j]
    if ch in _LINE_BREAKS:
        return True
    if j < index - 1:  # only spaces before: they must follow a line break or a terminator
        return not ch.isalnum() and ch != element
    return not ch.isalnum() and ch != element and ch != " "


def find_next_segment(text: str, element: str, start: int) -> int:
    """Index of the first control/transaction segment id after ``start`` that begins a segment, or -1."""
    best = -1
    for sid in _NEXT_SEGMENTS:
        needle = sid + element
        i = text.find(needle, start)
        while i != -1 and (best == -1 or i < best):
            if _preceded_by_boundary(text, i, element):
                best = i
                break
            i = text.find(needle, i + 1)
    return best


def _line_ends(text: str, final: bool, limit: int = 5) -> list[str]:
    """Last non-blank character of up to ``limit`` lines of ``text`` (the last line only if ``final``)."""
    out: list[str] = []
    lines = text.split("\n")
    for line in lines if final else lines[:-1]:
        line = line.rstrip(" \t\r")
        if line:
            out.append(line[-1])
            if len(out) >= limit:
                break
    return out


def _fallback_end(text: str, element: str) -> int:
    """End of the ISA when no following segment can be found: fixed width, or two characters after the
    sixteenth separator, or the whole text."""
    if len(text) >= 106 and all(text[p] == element for p in ISA_SEPARATOR_POSITIONS):
        return 106
    pos, seen = 3, 0
    while seen < 16:
        pos = text.find(element, pos + 1) if seen else 3
        if pos == -1:
            return len(text)
        seen += 1
    return min(len(text), pos + 3)


#: the information separators (FS, GS, RS, US) are common X12 delimiters, although ``str.isspace`` says they are space
_SEPARATORS = "\x1c\x1d\x1e\x1f"


def _is_space(char: str) -> bool:
    return char.isspace() and char not in _SEPARATORS


def parse_isa(text: str, *, final: bool) -> IsaHeader | None:
    """Parse the ISA at the start of ``text`` (which must start with ``ISA``).

    Returns ``None`` when more text is needed to decide (only if ``final`` is false: call again with more).
    """
    if len(text) < 4:
        if not final:
            return None
        return IsaHeader([], None, len(text), [HeaderProblem("isa_malformed", "ISA segment is truncated", None, "022")])
    element = text[3]
    if element.isalnum() or _is_space(element):
        return IsaHeader([], None, 3, [HeaderProblem(
            "delimiter_invalid", f"element separator {element!r} (4th character of the ISA) is not a delimiter",
            None, "026")])
    nxt = find_next_segment(text, element, 4)
    if nxt == -1:
        if not final and len(text) < HEADER_WINDOW:
            return None
        nxt = _fallback_end(text, element)
    elif not final and len(text) - nxt < 512 and len(text) < HEADER_WINDOW:
        return None  # want a few lines after the ISA to settle a newline/ISA16 ambiguity
    head = text[:nxt]
    body = head.rstrip(" \t\r\n")
    gap = head[len(body):]
    problems: list[HeaderProblem] = []
    parts = body.split(element)
    count = len(parts) - 1
    broken: list[int] = []
    for i in range(1, len(parts)):
        if "\r" in parts[i] or "\n" in parts[i]:
            parts[i] = parts[i].replace("\r", "").replace("\n", "")
            broken.append(i)
    if broken:
        problems.append(HeaderProblem(
            "isa_line_break", "line break inside the ISA segment (in ISA" + ", ISA".join(f"{i:02d}" for i in broken)
            + ")", broken[0], "022"))
    if count < 16:
        problems.append(HeaderProblem(
            "isa_malformed", f"the ISA has {count} elements instead of 16", count + 1, "022"))
    elif count > 16:
        problems.append(HeaderProblem(
            "isa_malformed", f"the ISA has {count} elements instead of 16", 17, "022"))
    has_break = any(c in gap for c in _LINE_BREAKS)
    newline_style = "\r\n" if "\r\n" in gap else ("\n" if has_break else "")
    component: str | None
    last = parts[-1] if count >= 1 else ""
    if count < 16:
        # the last element ends with the terminator unless the line break terminates it
        if last and not last[-1].isalnum() and last[-1] != " ":
            terminator, parts[-1] = last[-1], last[:-1]
        elif has_break:
            terminator = NEWLINE
        else:
            return IsaHeader(parts[1:], None, nxt, [*problems, HeaderProblem(
                "isa_malformed", "no segment terminator after the ISA", None, "004")])
        component = None
    else:
        isa16 = parts[16]
        rest = parts[17:]
        if rest:  # extra elements: the terminator ends the last one
            tail = rest[-1]
            if tail and not tail[-1].isalnum():
                terminator = tail[-1]
            elif has_break:
                terminator = NEWLINE
            else:
                return IsaHeader(parts[1:17], None, nxt, [*problems, HeaderProblem(
                    "isa_malformed", "no segment terminator after the ISA", None, "004")])
            component = isa16 if len(isa16) == 1 else None
        elif len(isa16) == 2:
            component, terminator = isa16[0], isa16[1]
        elif len(isa16) == 1:
            ends = _line_ends(text[nxt:], final) if has_break else []
            if not has_break or (ends and all(e == isa16 for e in ends)):
                component, terminator = None, isa16
                problems.append(HeaderProblem(
                    "isa16_missing", f"ISA16 (component separator) is missing; {isa16!r} is the segment terminator",
                    16, "027"))
            else:
                component, terminator = isa16, NEWLINE
        elif not isa16:
            if not has_break:
                return IsaHeader(parts[1:17], None, nxt, [*problems, HeaderProblem(
                    "isa_malformed", "no segment terminator after the ISA", None, "004")])
            component, terminator = None, NEWLINE
            problems.append(HeaderProblem("isa16_missing", "ISA16 (component separator) is missing", 16, "027"))
        else:
            component, terminator = None, isa16[-1]
            problems.append(HeaderProblem(
                "delimiter_invalid", f"ISA16 is {isa16[:-1]!r}: the component separator must be one character",
                16, "027"))
        parts[16] = component if component is not None else ""
        del parts[17:]
    elements = parts[1:]
    if terminator in _LINE_BREAKS:
        terminator = NEWLINE
    suffix = newline_style if terminator != NEWLINE else ""
    repetition: str | None = None
    if len(elements) >= 12 and elements[11] >= "00402":
        isa11 = elements[10]
        if len(isa11) == 1 and not isa11.isalnum() and not _is_space(isa11):
            repetition = isa11
    if component is not None and (component.isalnum() or _is_space(component)):
        problems.append(HeaderProblem(
            "delimiter_invalid", f"component separator {component!r} is a letter, digit or space", 16, "027"))
        component = None
    if terminator.isalnum() or terminator == " " or terminator == element:
        return IsaHeader(elements, None, nxt, [*problems, HeaderProblem(
            "delimiter_invalid", f"segment terminator {terminator!r} cannot be used", None, "004")])
    if component is not None and component in (element, terminator):
        problems.append(HeaderProblem(
            "delimiter_invalid", f"component separator {component!r} is also the element separator or terminator",
            16, "027"))
        component = None
    if repetition is not None and repetition in (element, terminator, component):
        problems.append(HeaderProblem(
            "delimiter_invalid", f"repetition separator {repetition!r} (ISA11) clashes with another delimiter",
            11, "026"))
        repetition = None
    delims = Delimiters(element, component, repetition, terminator, suffix)
    return IsaHeader(elements, delims, nxt, problems)


_BARE_START = re.compile(r"(?:ST|GS)[^A-Za-z0-9 \t\r\n\v\f]")


def looks_like_bare_start(text: str) -> bool:
    """True when ``text`` starts with an ST or GS segment (an interchange without ISA)."""
    return _BARE_START.match(text) is not None


def guess_bare_delimiters(text: str) -> Delimiters | None:
    """Delimiters of a transaction set or group sent without ISA: the separator after ``ST``/``GS`` and the
    first character after the header's data that is neither data nor that separator."""
    if not looks_like_bare_start(text):
        return None
    element = text[2]
    i = 3
    n = min(len(text), 512)
    while i < n and (text[i].isalnum() or text[i] in " .-" or text[i] == element):
        i += 1
    if i >= n:
        return None
    terminator = text[i]
    suffix = ""
    if terminator in _LINE_BREAKS:
        terminator = NEWLINE
    else:
        after = text[i + 1:i + 3]
        suffix = "\r\n" if after.startswith("\r\n") else ("\n" if after.startswith("\n") else "")
    if terminator == element or (_is_space(terminator) and terminator != NEWLINE):
        return None
    return Delimiters(element, None, None, terminator, suffix)
