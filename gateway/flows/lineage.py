"""Turn an X12 analysis into what the store records: the interchange/group/set tree and a timeline summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from gateway.store.repository import GroupRecord, InterchangeRecord, SetRecord


def _set_record(t: Any) -> SetRecord:
    return SetRecord(set_id=t.set_id, control_number=t.control_number, segment_count=t.segment_count, valid=t.valid)


class SetRecords(Sequence[SetRecord]):
    """The transaction sets of an analysed group as :class:`SetRecord` rows, made when read (the store inserts them
    in slices): a 100,000-set interchange does not hold a second copy of its sets while the step is written."""

    def __init__(self, transactions: Sequence[Any]) -> None:
        self._transactions = transactions

    def __len__(self) -> int:
        return len(self._transactions)

    @overload
    def __getitem__(self, index: int) -> SetRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[SetRecord]: ...

    def __getitem__(self, index: int | slice) -> SetRecord | list[SetRecord]:
        if isinstance(index, slice):
            return [_set_record(t) for t in self._transactions[index]]
        return _set_record(self._transactions[index])


def interchange_records(analysis: Any) -> list[InterchangeRecord]:
    return [
        InterchangeRecord(
            sender_qualifier=ic.sender_qualifier,
            sender_id=ic.sender_id,
            receiver_qualifier=ic.receiver_qualifier,
            receiver_id=ic.receiver_id,
            control_number=ic.control_number,
            version=ic.version,
            usage=ic.usage,
            date=ic.date,
            time=ic.time,
            groups=[
                GroupRecord(
                    functional_id=g.functional_id,
                    sender_id=g.sender_id,
                    receiver_id=g.receiver_id,
                    control_number=g.control_number,
                    version=g.version,
                    transactions=SetRecords(g.transactions),
                )
                for g in ic.groups
            ],
        )
        for ic in analysis.interchanges
    ]


MAX_LISTED_SETS = 100  # per group, in the envelope.read event
MAX_SET_IDS = 1000  # in the message's set_ids (display only)


def summarize_envelope(analysis: Any) -> dict[str, Any]:
    """Control numbers and set ids for the timeline (no payload content beyond envelope identifiers)."""
    set_ids: list[str] = []
    interchanges = []
    for ic in analysis.interchanges:
        groups = []
        for g in ic.groups:
            # bounded: a large interchange lists its first sets here; all of them are in the lineage tables
            listed = g.transactions[:MAX_LISTED_SETS]
            sets = [{"set_id": t.set_id, "control_number": t.control_number} for t in listed]
            room = MAX_SET_IDS - len(set_ids)
            if room > 0:
                set_ids.extend(t.set_id for t in g.transactions[:room])
            group = {
                "functional_id": g.functional_id,
                "control_number": g.control_number,
                "version": g.version,
                "transactions": sets,
            }
            if len(g.transactions) > len(listed):
                group["transaction_count"] = len(g.transactions)
            groups.append(group)
        interchanges.append(
            {
                "sender": f"{ic.sender_qualifier}/{ic.sender_id}",
                "receiver": f"{ic.receiver_qualifier}/{ic.receiver_id}",
                "control_number": ic.control_number,
                "usage": ic.usage,
                "groups": groups,
            }
        )
    return {
        "valid": bool(analysis.valid),
        "interchanges": interchanges,
        "set_ids": set_ids,
        "errors": len(analysis.errors) + sum(len(ic.errors) for ic in analysis.interchanges),
        "warnings": [w.describe() for w in analysis.warnings][:20],
    }
