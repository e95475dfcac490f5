"""The mapping layer: canonical records to and from X12, CSV and XML, declared as data in ``mappings/``.

Facade::

    from gateway.mapping import to_canonical, from_canonical, business_keys
    items = to_canonical(x12_bytes, partner_overrides=None)   # [Order | Shipment | Status | MappingError, ...]
    for item in iter_canonical(stream): ...                    # the same, streamed (bounded memory)
    data = from_canonical(records, EnvelopeSettings(...))      # bytes: one interchange
    business_keys(record)                                      # [("po", "4500012"), ("sscc", "0001..."), ...]
"""

from gateway.canonical.keys import business_keys
from gateway.mapping.spec import load_overrides
from gateway.mapping.x12 import (
    EnvelopeSettings,
    from_canonical,
    iter_canonical,
    iter_mapped,
    iter_transactions,
    map_transaction,
    to_canonical,
)

__all__ = ["EnvelopeSettings", "business_keys", "from_canonical", "iter_canonical", "iter_mapped", "iter_transactions",
           "load_overrides", "map_transaction", "to_canonical"]
