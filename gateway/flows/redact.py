"""Keep payload data out of failure reasons: the reason keeps the position (file, segment, element) and what is
wrong, and the quoted data is withheld unless the setting ``edge.quote_data_in_reasons`` allows it.

The X12 engine and the mapping layer quote offending values (``ISA06 'ACME RETAIL' is longer than ...``,
``'REF*ZZ*EEEE...'``); reasons are stored, shown in API answers and logged, and the data may be personal or
confidential. Quoted literals are replaced by :data:`WITHHELD`, except short ones (up to 3 characters: a segment
id, a code such as ``'U'``) and digits only (control numbers, counts, dates), which say what to fix and hold no
business data. Pure.
"""

from __future__ import annotations

import re

WITHHELD = "<data withheld>"
_QUOTED = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*\"""")


def _keep(literal: str) -> bool:
    inner = literal[1:-1]
    return len(inner) <= 3 or inner.isdigit()


def withhold_data(text: str, *, quote_data: bool = False) -> str:
    """``text`` with quoted payload data replaced by :data:`WITHHELD` (unchanged when ``quote_data``)."""
    if quote_data or ("'" not in text and '"' not in text):
        return text
    return _QUOTED.sub(lambda m: m.group(0) if _keep(m.group(0)) else WITHHELD, text)
