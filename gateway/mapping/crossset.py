"""A shipment read from one set and written as the other (945 <-> 856): the values that mean something only in
the set they came from are translated, so the output is valid X12.

* ``purpose``: a 945's ``final``/``partial`` (W06-01) is no 856 purpose (BSN-01): it becomes ``original``; an 856
  purpose written as a 945 becomes ``final`` (the 945 default).
* BSN-03/BSN-04 (date and time of the notice) are mandatory: a 945's shipment has no ``document_date`` (W06 has
  one date), so its ship date stands in.
* Date qualifiers: a 945's G62-01 (two digits, DE 432) becomes the DTM-01 (three digits, DE 374) of the same
  meaning (``10`` requested ship -> ``010``, ``11`` shipped -> ``011``, ``02`` delivery requested -> ``002``).
"""

from __future__ import annotations

from typing import Any

BSN_PURPOSES = frozenset({"original", "cancel", "replace", "confirmation", "duplicate", "advance",
                          "00", "01", "05", "06", "07", "14"})
W06_PURPOSES = frozenset({"final", "partial", "F", "P"})


def _dates(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    out = []
    for d in items:
        q = d.get("qualifier") if isinstance(d, dict) else None
        if isinstance(q, str) and len(q) == 2 and q.isdigit():
            d = {**d, "qualifier": "0" + q}
        out.append(d)
    return out


def adapt(data: dict[str, Any], set_id: str) -> dict[str, Any]:
    """``data`` (a JSON-mode shipment) fit for ``set_id``; other records and sets come back unchanged."""
    if data.get("type") != "shipment":
        return data
    if set_id == "856":
        data = dict(data)
        from_945 = data.get("purpose") in W06_PURPOSES
        if data.get("purpose") and data["purpose"] not in BSN_PURPOSES:
            data["purpose"] = "original"
        if from_945 and not data.get("document_date") and data.get("ship_date"):
            date = str(data["ship_date"])
            data["document_date"] = date if "T" in date else f"{date}T00:00"
        if "dates" in data:
            data["dates"] = _dates(data["dates"])
        if isinstance(data.get("shipment_level"), dict) and "dates" in data["shipment_level"]:
            data["shipment_level"] = {**data["shipment_level"], "dates": _dates(data["shipment_level"]["dates"])}
    elif set_id == "945" and data.get("purpose") and data["purpose"] not in W06_PURPOSES:
        data = {**data, "purpose": "final"}
    return data


def finish(set_id: str, segments: list[list[Any]]) -> list[list[Any]]:
    """Complete element pairs the canonical record holds once: an 856 SN1 with the ordered quantity (SN105) takes
    its unit (SN106) from the line's one unit of measure (SN103), as X12 requires (P0506)."""
    if set_id == "856":
        for seg in segments:
            if seg and seg[0] == "SN1" and len(seg) > 5 and seg[5] not in ("", None) and len(seg) > 3:
                while len(seg) < 7:
                    seg.append("")
                if seg[6] in ("", None):
                    seg[6] = seg[3]
    return segments
