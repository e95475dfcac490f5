"""The allow-list of value transforms a mapping file may name, each with its inverse for the outbound direction.

A transform is named in a mapping field as ``transform: NAME`` or ``transform: {NAME: argument}``; there is no
expression language and no ``eval``. Inbound (X12 -> canonical) a transform gets the raw element value(s) and
returns the canonical value; outbound :func:`invert` turns the canonical value back into element values.

=============  ==================================================  ==========================================
name           inbound                                             outbound
=============  ==================================================  ==========================================
``date``       CCYYMMDD or YYMMDD -> ``2024-03-01``               ``2024-03-01`` -> ``20240301``
``time``       HHMM[SS[DD]] -> ``08:30`` / ``08:30:15``           back to HHMM / HHMMSS
``datetime``   [date, time, zone code] -> ISO with offset          ISO -> [date, time, zone code]
``decimal``    ``"12.50"`` -> Decimal                              Decimal -> text (exponent-free)
``table``      code -> word via a code table (unknown kept)        word -> code (first entry that maps to it)
``strip``      trims spaces                                        unchanged
``join``       several elements joined with a separator            whole value to the first element
=============  ==================================================  ==========================================

``default`` (a constant when the element is empty) and ``required`` are field options, not transforms.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any


class TransformError(ValueError):
    """A value the transform cannot convert; the engine turns it into a MappingError with the location."""


# X12 time code (DE 623) -> fixed offset or IANA zone (the local "T" codes follow daylight saving on the date).
ZONES: dict[str, str | timedelta] = {
    "UT": timedelta(0), "GM": timedelta(0),
    "ES": timedelta(hours=-5), "ED": timedelta(hours=-4), "ET": "America/New_York",
    "CS": timedelta(hours=-6), "CD": timedelta(hours=-5), "CT": "America/Chicago",
    "MS": timedelta(hours=-7), "MD": timedelta(hours=-6), "MT": "America/Denver",
    "PS": timedelta(hours=-8), "PD": timedelta(hours=-7), "PT": "America/Los_Angeles",
    "AS": timedelta(hours=-9), "AD": timedelta(hours=-8), "AT": "America/Anchorage",
    "HS": timedelta(hours=-10), "HT": "Pacific/Honolulu",
    "NS": timedelta(hours=-3, minutes=-30), "NT": "America/St_Johns",
    "TS": timedelta(hours=-4), "TT": "America/Halifax",
    "LT": "",  # local time: no offset is known, the result has none
}
# Outbound: offset -> the fixed-offset code that reads back to the same offset.
_OFFSET_SUFFIX = re.compile(r"(Z|[+-]\d{2}:\d{2})$")
_OFFSET_CODES = {v: k for k, v in ZONES.items() if isinstance(v, timedelta) and k not in ("GM",)}


@lru_cache(maxsize=4096)  # the same dates, times and quantities recur across documents
def to_date(value: str) -> str:
    v = value.strip()
    if len(v) == 6 and v.isdigit():  # YYMMDD: X12 century window (ISA09 convention)
        year = int(v[:2])
        v = ("20" if year < 50 else "19") + v
    if len(v) != 8 or not v.isdigit():
        raise TransformError(f"{value!r} is not a CCYYMMDD date")
    try:
        datetime(int(v[:4]), int(v[4:6]), int(v[6:8]))
    except ValueError as exc:
        raise TransformError(f"{value!r} is not a calendar date") from exc
    return f"{v[:4]}-{v[4:6]}-{v[6:8]}"


def from_date(value: str) -> str:
    return value[:10].replace("-", "")


@lru_cache(maxsize=4096)  # the same dates, times and quantities recur across documents
def to_time(value: str) -> str:
    v = value.strip()
    if not v.isdigit() or len(v) not in (4, 6, 7, 8) or int(v[:2]) > 23 or int(v[2:4]) > 59:
        raise TransformError(f"{value!r} is not an HHMM[SS[D[D]]] time")
    if len(v) == 4:
        return f"{v[:2]}:{v[2:4]}"
    text = f"{v[:2]}:{v[2:4]}:{v[4:6]}"
    return text + "." + v[6:] if len(v) > 6 else text


def from_time(value: str) -> str:
    parts = value.split(".")
    digits = parts[0].replace(":", "")
    return digits + (parts[1] if len(parts) > 1 else "")


@lru_cache(maxsize=4096)  # the same dates, times and quantities recur across documents
def to_datetime(date: str, time: str = "", zone: str = "") -> str:
    day = to_date(date)
    if not time.strip():
        return day
    clock = to_time(time)
    text = f"{day}T{clock}"
    zone = zone.strip()
    if not zone:
        return text
    where = ZONES.get(zone)
    if where is None:
        raise TransformError(f"unknown time code {zone!r}")
    naive = datetime.fromisoformat(text)
    if where == "":
        return text
    if isinstance(where, str):
        offset = naive.replace(tzinfo=zoneinfo.ZoneInfo(where)).utcoffset() or timedelta(0)
    else:
        offset = where
    total = int(offset.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    return f"{text}{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"


def from_datetime(value: str) -> list[str]:
    if len(value) <= 10:
        return [from_date(value), "", ""]
    moment = datetime.fromisoformat(value)
    clock = _OFFSET_SUFFIX.sub("", value[11:])
    code = ""
    offset = moment.utcoffset()
    if offset is not None:
        code = _OFFSET_CODES.get(offset, "")
        if not code:
            raise TransformError(f"no X12 time code for the offset of {value!r}")
    return [from_date(value), from_time(clock), code]


@lru_cache(maxsize=4096)  # the same dates, times and quantities recur across documents
def to_decimal(value: str) -> Decimal:
    try:
        number = Decimal(value.strip())
    except InvalidOperation as exc:
        raise TransformError(f"{value!r} is not a number") from exc
    if not number.is_finite():
        raise TransformError(f"{value!r} is not a finite number")
    return number


def from_decimal(value: Any) -> str:
    number = Decimal(str(value))
    text = format(number, "f")
    return text


def lookup(table: dict[str, str], value: str, *, strict: bool = False, name: str = "") -> str:
    if value in table:
        return table[value]
    if strict:
        raise TransformError(f"{value!r} has no entry in the code table {name!r}")
    return value


def reverse_lookup(table: dict[str, str], value: str, *, strict: bool = False, name: str = "") -> str:
    for code, word in table.items():
        if word == value:
            return code
    if strict and value not in table:
        raise TransformError(f"{value!r} has no entry in the code table {name!r}")
    return value


NAMES = frozenset({"date", "time", "datetime", "decimal", "table", "strip", "join"})
