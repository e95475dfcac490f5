"""Normalised business keys: what makes two references written differently the same reference.

Partners write one purchase order as ``0004500012345``, ``4500012345`` or ``po 4500012345``; case varies
(``bol123`` / ``BOL123``) and so does the qualifier that carries it (a PO in W05-03 for one partner, an ``N9*PO``
or ``REF*CR`` for another). The join therefore works on *families* of kinds (an order is found by any of its
``po`` / ``order`` keys, a shipment by ``shipment`` / ``bol`` / ``pro`` / ``tracking`` / ``sscc``) and on a
normalised value:

* upper case, every character that is not a letter or a digit dropped (spaces, dashes, dots, slashes);
* leading zeros of the remaining text dropped (``000123`` -> ``123``; ``0`` stays ``0``);
* a leading ``PO`` / ``BOL`` / ``PRO`` word glued to a number (``PO4500012345``) is **kept**: it may be part of
  the reference, and dropping it would join unrelated orders.
"""

from __future__ import annotations

import re

ORDER_KINDS = ("order", "po")
SHIPMENT_KINDS = ("shipment", "bol", "pro", "tracking", "sscc")
OBJECT_KINDS = {"order": ORDER_KINDS, "shipment": SHIPMENT_KINDS}
MAX_NORM = 128
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def normalise(value: str | None) -> str:
    """The join form of a key ('' for nothing usable)."""
    if not value:
        return ""
    text = _NOT_ALNUM.sub("", value.upper())  # ASCII letters and digits only (a regex: 3x a loop over chars)
    stripped = text.lstrip("0")
    return (stripped or ("0" if text else ""))[:MAX_NORM]


def family(kind: str) -> str | None:
    """``order`` or ``shipment`` for a business key kind; None for ``file`` and unknown kinds."""
    for name, kinds in OBJECT_KINDS.items():
        if kind in kinds:
            return name
    return None


def primary_key(kind: str, keys: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The key a message's object of ``kind`` is named by: the first key of the family's preferred kind
    (order number before PO; shipment id before BOL, PRO, tracking, SSCC). ``(display value, normalised)``."""
    for k in OBJECT_KINDS[kind]:
        for kk, value in keys:
            if kk == k and normalise(value):
                return value.strip(), normalise(value)
    return None
