"""X12 simple data types: value checks that return the issue code of the first problem, or ``None``.

Types (X12.6): ``AN`` string, ``ID`` identifier (code), ``Nn`` implied-decimal numeric with *n* decimals, ``R``
decimal numeric, ``DT`` date (``YYMMDD`` or ``CCYYMMDD``), ``TM`` time (``HHMM[SS[d..]]``), ``B`` binary. Lengths
of numeric values exclude the minus sign and the decimal point. The checks use only string methods on the
common path (no regular expression, no exception) because they run for every element of every segment.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TOO_SHORT = "element_too_short"
TOO_LONG = "element_too_long"
BAD_CHAR = "element_invalid_character"
BAD_CODE = "element_invalid_code"
BAD_DATE = "element_invalid_date"
BAD_TIME = "element_invalid_time"

_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_REAL = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[Ee]-?\d+)?")

Checker = Callable[[str], "str | None"]


def valid_date(value: str) -> bool:
    """``YYMMDD`` or ``CCYYMMDD`` with a real month and day (29 February only in leap years)."""
    n = len(value)
    if n not in (6, 8) or not (value.isascii() and value.isdigit()):
        return False
    month = int(value[-4:-2])
    day = int(value[-2:])
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month]:
        return False
    if month == 2 and day == 29:
        year = int(value[:-4])
        if n == 6:
            return year % 4 == 0  # YY: the century is unknown; every fourth year is a leap year in 1901..2099
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return True


def valid_time(value: str) -> bool:
    """``HHMM``, ``HHMMSS``, ``HHMMSSd`` or ``HHMMSSdd`` (24-hour clock)."""
    n = len(value)
    if n < 4 or n > 8 or n == 5 or not (value.isascii() and value.isdigit()):
        return False
    if int(value[:2]) > 23 or int(value[2:4]) > 59:
        return False
    return n < 6 or int(value[4:6]) <= 59


def numeric_digits(value: str) -> int | None:
    """Number of digits of an ``Nn`` value (sign excluded), or ``None`` when it is not an integer."""
    digits = value[1:] if value[:1] == "-" else value
    if digits and digits.isascii() and digits.isdigit():
        return len(digits)
    return None


def real_digits(value: str) -> int | None:
    """Number of digits of an ``R`` value (sign, point and exponent excluded), or ``None`` when invalid."""
    if value.isascii() and value.isdigit():
        return len(value)
    if _REAL.fullmatch(value) is None:
        return None
    mantissa = re.split(r"[Ee]", value, maxsplit=1)[0]
    return sum(ch.isdigit() for ch in mantissa)


def make_checker(kind: str, min_len: int, max_len: int, codes: frozenset[str] | None = None) -> Checker:
    """A function ``value -> issue code | None`` for one simple element definition (value is never empty)."""
    if kind == "ID" and codes:
        def check_code(v: str) -> str | None:
            # A value outside the code list is an invalid code whatever its length (AK4 code 7).
            return None if v in codes else BAD_CODE
        return check_code
    if kind in ("AN", "ID", "B"):
        def check_string(v: str) -> str | None:
            n = len(v)
            if n < min_len:
                return TOO_SHORT
            if n > max_len:
                return TOO_LONG
            return None
        return check_string
    if kind.startswith("N"):
        def check_numeric(v: str) -> str | None:
            n = numeric_digits(v)
            if n is None:
                return BAD_CHAR
            if n < min_len:
                return TOO_SHORT
            if n > max_len:
                return TOO_LONG
            return None
        return check_numeric
    if kind.startswith("R"):
        def check_real(v: str) -> str | None:
            if v.isdigit() and v.isascii():
                n = len(v)
            else:
                digits = real_digits(v)
                if digits is None:
                    return BAD_CHAR
                n = digits
            if n < min_len:
                return TOO_SHORT
            if n > max_len:
                return TOO_LONG
            return None
        return check_real
    if kind == "DT":
        def check_date(v: str) -> str | None:
            if len(v) < min_len and v.isdigit():
                return TOO_SHORT
            if len(v) > max_len and v.isdigit():
                return TOO_LONG
            if len(v) < min_len or len(v) > max_len or not valid_date(v):
                return BAD_DATE
            return None
        return check_date
    if kind == "TM":
        def check_time(v: str) -> str | None:
            if len(v) < min_len and v.isdigit():
                return TOO_SHORT
            if len(v) > max_len and v.isdigit():
                return TOO_LONG
            if not valid_time(v):
                return BAD_TIME
            return None
        return check_time
    raise ValueError(f"unknown X12 data type {kind!r}")
